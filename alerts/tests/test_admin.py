"""The alert admin: filters, search, actions; events are read-only."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from notifications.models import Delivery

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:alerts_alert_changelist")


def run_action(admin_client, action: str, alerts: list[Alert]):
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [alert.pk for alert in alerts]},
        follow=True,
    )


def test_the_changelist_filters_by_status_condition_and_coin(admin_client, make_alert, bitcoin):
    make_alert(note="x")

    response = admin_client.get(
        CHANGELIST, {"status": "active", "condition": "above", "coin__id__exact": bitcoin.pk}
    )

    assert response.status_code == 200
    assert "price is at or above 30000" in response.content.decode()


def test_the_changelist_searches_by_user_and_coin(admin_client, make_alert, owner):
    make_alert()

    by_user = admin_client.get(CHANGELIST, {"q": owner.username})
    by_coin = admin_client.get(CHANGELIST, {"q": "dogecoin"})
    by_symbol = admin_client.get(CHANGELIST, {"q": "btc"})

    assert by_user.context["cl"].result_count == 1
    assert by_coin.context["cl"].result_count == 0
    assert by_symbol.context["cl"].result_count == 1


def test_the_pause_action_pauses_only_active_alerts(admin_client, make_alert):
    active, triggered = make_alert(), make_alert(status="triggered")

    run_action(admin_client, "pause", [active, triggered])

    assert dict(Alert.objects.values_list("pk", "status")) == {
        active.pk: "paused",
        triggered.pk: "triggered",
    }


def test_the_resume_action_re_arms(admin_client, make_alert):
    alert = make_alert(status="triggered", armed=False)

    response = run_action(admin_client, "resume", [alert])

    alert.refresh_from_db()
    assert (alert.status, alert.armed) == ("active", True)
    assert "Resumed 1 alert(s)." in response.content.decode()


def test_the_resume_action_reports_alerts_over_the_cap(admin_client, make_alert, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    make_alert()
    paused = make_alert(status="paused")

    response = run_action(admin_client, "resume", [paused])

    assert "Not resumed: #" in response.content.decode()
    paused.refresh_from_db()
    assert paused.status == "paused"


def test_the_test_notification_action_queues_one_delivery_per_channel(
    admin_client, make_alert, owner
):
    alert = make_alert(channels=["email", "webhook"])

    run_action(admin_client, "send_test_notification", [alert])

    deliveries = Delivery.objects.filter(user=owner, event=None)
    assert sorted(deliveries.values_list("channel", flat=True)) == ["email", "webhook"]


def test_events_are_read_only(admin_client, make_alert):
    alert = make_alert()
    event = AlertEvent.objects.create(
        alert=alert, coin=alert.coin, price=Decimal("1"), reason="r", triggered_at=timezone.now()
    )

    assert admin_client.get(reverse("admin:alerts_alertevent_add")).status_code == 403
    change = admin_client.get(reverse("admin:alerts_alertevent_change", args=[event.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert admin_client.get(reverse("admin:alerts_alertevent_changelist")).status_code == 200


def set_status_in_the_change_form(admin_client, alert: Alert, status: str):
    url = reverse("admin:alerts_alert_change", args=[alert.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if name != "expires_at"}
    data = {name: "" if value is None else value for name, value in data.items()}
    data.update(expires_at_0="", expires_at_1="", status=status)
    return admin_client.post(url, data)


def test_expiring_a_paused_alert_by_hand_records_it_expired_paused(admin_client, make_alert):
    # So an owner's edit that revives it brings it back paused, as after the task.
    alert = make_alert(status="paused")

    response = set_status_in_the_change_form(admin_client, alert, "expired")

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.expired_from) == ("expired", "paused")


def test_reviving_an_alert_by_hand_forgets_what_it_expired_from(admin_client, make_alert):
    alert = make_alert(status="expired", expired_from="paused")

    set_status_in_the_change_form(admin_client, alert, "active")

    alert.refresh_from_db()
    assert (alert.status, alert.expired_from) == ("active", "")
