"""Webhook delivery to a local HTTP server that checks the HMAC signature."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.delivery import deliver, send_test_notifications
from notifications.models import Delivery, DeliveryStatus, NotificationSettings
from notifications.tests.conftest import stalled_reads

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(receiver, owner, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True  # the receiver listens on 127.0.0.1
    config = NotificationSettings.for_user(owner)
    config.webhook_url = receiver.url
    config.save()
    receiver.secret = config.webhook_secret
    return receiver


def test_it_posts_the_alert_signed_with_the_users_secret(hook, owner, fire):
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [request] = hook.requests
    assert request["signature_valid"]
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-CryptoMonitor-Timestamp"].isdigit()
    body = request["json"]
    assert body["type"] == "alert"
    assert body["delivery_id"] == delivery.pk
    assert body["alert"]["symbol"] == "BTC"
    assert body["alert"]["price"] == "30123.45"
    assert body["alert"]["event_id"] == delivery.event_id


def test_an_alert_in_euros_posts_its_price_in_euros_with_the_rate_it_was_converted_with(
    hook, owner, fire
):
    [delivery] = fire(owner, channels=["webhook"], price="27111.1071", currency="eur",
                      exchange_rate="0.9")  # fmt: skip

    deliver(delivery.pk)

    alert = hook.requests[0]["json"]["alert"]
    assert (alert["price"], alert["currency"], alert["exchange_rate"]) == (
        "27111.1071", "eur", "0.9"
    )  # fmt: skip
    assert alert["price_text"] == "€27,111.11"
    assert alert["condition"] == "price is at or above 30000 EUR"


def test_a_regenerated_secret_signs_the_next_webhook(hook, owner, fire):
    config = NotificationSettings.for_user(owner)
    old_secret = config.webhook_secret
    config.regenerate_webhook_secret()
    [delivery] = fire(owner, channels=["webhook"])

    deliver(delivery.pk)

    assert config.webhook_secret != old_secret
    assert not hook.requests[0]["signature_valid"]  # the receiver still has the old one
    hook.secret = config.webhook_secret
    hook.record(hook.requests[0]["headers"], hook.requests[0]["body"])
    assert hook.requests[-1]["signature_valid"]


def test_it_retries_a_5xx_then_sends(hook, owner, fire):
    hook.script = [503]
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert "HTTP 503" in delivery.last_error

    assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.SENT
    assert len(hook.requests) == 2
    assert all(request["signature_valid"] for request in hook.requests)


def test_it_retries_a_timeout(hook, owner, fire, settings):
    settings.OUTBOUND_TIMEOUT_SECONDS = 0.3
    hook.script = [("sleep", 1.0)]
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert "did not answer within 0.3 s" in delivery.last_error
    assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.SENT


def test_it_fails_at_once_on_a_4xx(hook, owner, fire):
    hook.script = [410]
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert "HTTP 410" in delivery.last_error


def test_it_fails_without_a_webhook_url(owner, fire):
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert "no webhook URL" in delivery.last_error


def test_it_gives_up_after_the_maximum_attempts(hook, owner, fire, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    hook.script = [500, 500, 500]
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.last_error.startswith("gave up after 2 attempts")


def test_a_test_notification_posts_a_signed_test_message(hook, owner):
    [delivery] = send_test_notifications(owner, ["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [request] = hook.requests
    assert request["signature_valid"]
    assert request["json"]["type"] == "test"
    alert = request["json"]["alert"]
    assert alert["event_id"] is None
    assert (alert["price"], alert["price_text"]) == ("", "")


def test_it_refuses_to_post_to_a_private_address_by_default(receiver, owner, fire):
    config = NotificationSettings.for_user(owner)
    config.webhook_url = receiver.url
    config.save()
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    assert "OUTBOUND_ALLOW_PRIVATE_IPS=True" in delivery.last_error
    assert receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_webhook_whose_settings_read_outlasts_the_lease_is_left_to_the_sweeper(
    hook, owner, fire, settings
):
    # The read of the webhook's URL and secret, after the lease check,
    # answered only once the worker's cut link was back.
    [delivery] = fire(owner, channels=["webhook"])
    lease = timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS)
    claimed_at = timezone.now() - lease + timedelta(seconds=1)  # 1 s of it left

    with stalled_reads(NotificationSettings._meta.db_table, seconds=2):
        assert deliver(delivery.pk, now=claimed_at) is None

    assert hook.requests == []
    assert Delivery.objects.lease_expired(timezone.now()).filter(pk=delivery.pk).exists()
