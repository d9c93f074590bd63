"""Apprise delivery, through apprise's json:// service to a local HTTP server."""

from __future__ import annotations

import pytest

from notifications.delivery import deliver
from notifications.models import DeliveryStatus, NotificationSettings

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def allow_loopback(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True  # the receiver listens on 127.0.0.1


def use_apprise(user, *urls: str) -> None:
    config = NotificationSettings.for_user(user)
    config.apprise_urls = "\n".join(urls)
    config.save()


def test_it_notifies_every_apprise_url(receiver, owner, fire):
    url = receiver.url.replace("http://", "json://")
    use_apprise(owner, url, url)
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    assert len(receiver.requests) == 2
    body = receiver.requests[0]["json"]
    assert body["title"] == "BTC price is at or above 30000 (now 30123.45 USD)"
    assert "BTC is at 30123.45" in body["message"]


def test_it_retries_when_the_service_fails(receiver, owner, fire):
    receiver.script = [500]
    use_apprise(owner, receiver.url.replace("http://", "json://"))
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.SENT


def test_it_fails_at_once_on_an_invalid_url(owner, fire):
    use_apprise(owner, "nosuchservice://token")
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert "Apprise does not understand: nosuchservice://token" in delivery.last_error


def test_a_url_saved_before_a_rule_was_added_is_refused_at_send_time(owner, fire):
    # Saved without the form (as rows saved under older rules are): syslog://
    # would write the user's text into this machine's log.
    use_apprise(owner, "syslog://")
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert "syslog://" in delivery.last_error
    assert "We cannot send there" in delivery.last_error


def test_it_fails_without_urls(owner, fire):
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED
