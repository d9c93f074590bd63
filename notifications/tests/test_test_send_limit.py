"""Test sends are limited per user: "send a test" once mailed a stranger 30 times in 0.6 s.

"Send a test" mails or posts to a destination nobody has confirmed, so each
user gets NOTIFICATIONS_TEST_SENDS_PER_MINUTE of them, through the settings
page and the alert admin's action alike.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.urls import reverse

from alerts.models import Alert
from notifications.models import Delivery

pytestmark = pytest.mark.django_db

SEND_TEST = "/notifications/settings/test/email/"


@pytest.fixture(autouse=True)
def within_one_minute() -> None:
    """Start at least 10 s before the counter's window (a clock minute) ends."""
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.1)


def test_the_sixth_test_send_within_a_minute_is_refused_and_queues_nothing(client, owner, stranger):
    client.force_login(owner)
    for _ in range(5):
        client.post(SEND_TEST)
    assert Delivery.objects.filter(user=owner).count() == 5

    page = client.post(SEND_TEST, follow=True)

    assert "Too many test notifications: at most 5 a minute. Try again in" in (
        page.content.decode()
    )
    assert Delivery.objects.filter(user=owner).count() == 5
    # Per user: someone else's test still goes.
    client.force_login(stranger)
    client.post(SEND_TEST)
    assert Delivery.objects.filter(user=stranger).count() == 1


def test_the_setting_sets_the_limit(client, owner, settings):
    settings.NOTIFICATIONS_TEST_SENDS_PER_MINUTE = 1
    client.force_login(owner)

    client.post(SEND_TEST)
    client.post(SEND_TEST)

    assert Delivery.objects.filter(user=owner).count() == 1


def test_the_alert_admin_action_counts_against_the_owners_limit(admin_client, owner, coin):
    alerts = [
        Alert.objects.create(
            user=owner, coin=coin, condition="above", target=Decimal(1), channels=["email"]
        )
        for _ in range(6)
    ]

    page = admin_client.post(
        reverse("admin:alerts_alert_changelist"),
        {"action": "send_test_notification", "_selected_action": [a.pk for a in alerts]},
        follow=True,
    )

    assert Delivery.objects.filter(user=owner).count() == 5
    assert "Queued 5 test notification(s)." in page.content.decode()
    [refused] = [m.message for m in page.context["messages"] if m.level_tag == "warning"]
    assert refused.startswith("Not sent: #") and "Too many test notifications" in refused
