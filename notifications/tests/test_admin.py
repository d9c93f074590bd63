"""The deliveries admin: read-only, filterable, with a retry action."""

from __future__ import annotations

import pytest

from notifications.models import Delivery, PushSubscription
from notifications.tests.conftest import queued_delivery_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    return client


def test_it_lists_deliveries_filtered_by_status_and_channel(admin_client, owner, fire):
    [delivery] = fire(owner, channels=["webhook"])
    Delivery.objects.filter(pk=delivery.pk).update(status="failed")

    page = admin_client.get("/admin/notifications/delivery/?status=failed&channel=webhook")

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [delivery]
    assert (
        admin_client.get(f"/admin/notifications/delivery/{delivery.pk}/change/").status_code == 200
    )


def test_retry_puts_failed_deliveries_back_in_the_queue(
    admin_client, owner, fire, private_celery_queue, django_capture_on_commit_callbacks
):
    [failed] = fire(owner, channels=["webhook"])
    [sent] = fire(owner, channels=["webhook"])
    Delivery.objects.filter(pk=failed.pk).update(status="failed", attempts=6)
    Delivery.objects.filter(pk=sent.pk).update(status="sent")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/notifications/delivery/",
            {"action": "retry", "_selected_action": [failed.pk, sent.pk]},
        )

    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert Delivery.objects.get(pk=sent.pk).status == "sent"
    assert queued_delivery_ids(private_celery_queue) == [failed.pk]


def test_the_admin_pages_of_inbox_and_settings_load(admin_client, owner):
    for model in ("inappnotification", "notificationsettings", "emaildigest"):
        assert admin_client.get(f"/admin/notifications/{model}/").status_code == 200


def test_staff_see_and_remove_a_users_browsers_but_cannot_add_one(admin_client, owner):
    browser = PushSubscription.objects.create(
        user=owner, endpoint="https://push.example.net/1", p256dh="B", auth="a", browser="Firefox"
    )

    assert "Firefox" in admin_client.get("/admin/notifications/pushsubscription/").content.decode()
    assert admin_client.get("/admin/notifications/pushsubscription/add/").status_code == 403
    admin_client.post(
        f"/admin/notifications/pushsubscription/{browser.pk}/delete/", {"post": "yes"}
    )
    assert not PushSubscription.objects.exists()
