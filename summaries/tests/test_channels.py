"""Every channel carries a summary, to real local servers: SMTP, HTTP, a push service."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from notifications import push
from notifications.delivery import deliver
from notifications.models import Delivery, DeliveryStatus, InAppNotification, NotificationSettings
from notifications.outbox import record_deliveries
from notifications.tests.test_in_app import _listen, _receive
from notifications.tests.test_web_push import subscribed
from summaries.sending import send_due_summaries
from summaries.tests.conftest import in_zone

pytestmark = pytest.mark.django_db

EIGHT_IN_PARIS = datetime(2026, 1, 19, 7, 0, tzinfo=UTC)
TITLE = "Your summary for Monday 19 January, 08:00 (Europe/Paris)"
BITCOIN_LINE = "Bitcoin (BTC): $70,250.50, +1.25% in 24 h"
ALERT_LINE = "BTC price is at or above 75000: +$4,749.50 (+6.76%) to the target"


@pytest.fixture
def summary(owner, make_schedule, watching, settings):
    """Claim the owner's 08:00 summary on the given channels; its deliveries by channel."""
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True  # the servers listen on 127.0.0.1
    in_zone(owner, "Europe/Paris")

    def claim(*channels: str) -> dict[str, Delivery]:
        make_schedule(channels=list(channels))
        assert send_due_summaries(EIGHT_IN_PARIS) == 1
        return {d.channel: d for d in Delivery.objects.filter(summary__isnull=False)}

    return claim


def test_the_email_has_the_summary_as_subject_text_and_html(summary, smtp):
    delivery = summary("email")["email"]

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [mail] = smtp.messages
    assert mail["Subject"] == f"CryptoMonitor: {TITLE}"
    assert mail["X-CryptoMonitor-Delivery"] == str(delivery.pk)
    text = mail.get_body(("plain",)).get_content()
    assert BITCOIN_LINE in text
    assert "Ethereum (ETH): $3,512.00, -0.40% in 24 h" in text
    assert ALERT_LINE in text
    assert "/summaries/" in text
    html = mail.get_body(("html",)).get_content()
    assert '<td align="right">$70,250.50</td><td align="right">+1.25%</td>' in html
    assert 'price is at or above 75000</a></td><td align="right">+$4,749.50 (+6.76%)' in html


def test_a_summary_email_goes_alone_during_a_storm_of_alert_emails(summary, owner, bitcoin, smtp):
    alert = Alert.objects.create(user=owner, coin=bitcoin, condition="above", target=Decimal(1))
    for _ in range(5):  # past the digest threshold
        event = AlertEvent.objects.create(
            alert=alert, coin=bitcoin, price=bitcoin.price, reason="up", triggered_at=timezone.now()
        )
        record_deliveries(event, ["email"])
    delivery = summary("email")["email"]

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [mail] = smtp.messages
    assert mail["Subject"] == f"CryptoMonitor: {TITLE}"
    assert Delivery.objects.filter(event__isnull=False, status=DeliveryStatus.PENDING).count() == 5


def test_in_app_puts_the_summary_in_the_inbox_and_pops_it_up(summary, owner):
    listening = async_to_sync(_listen)(f"user.{owner.pk}")
    delivery = summary("in_app")["in_app"]

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    entry = InAppNotification.objects.get(delivery=delivery)
    assert entry.title == TITLE
    assert BITCOIN_LINE in entry.body and ALERT_LINE in entry.body
    assert entry.url == "/"
    popup = async_to_sync(_receive)(listening, 5)["alert"]
    assert popup["kind"] == "summary"
    assert popup["summary_id"] == delivery.summary_id
    assert popup["coin"] == TITLE
    assert popup["message"] == "BTC $70,250.50 +1.25% · ETH $3,512.00 -0.40% · 1 active alert"
    assert popup["id"] is None


def test_the_webhook_posts_the_rows_signed_as_a_summary(summary, owner, receiver, settings):
    config = NotificationSettings.for_user(owner)
    config.webhook_url = receiver.url
    config.save()
    receiver.secret = config.webhook_secret
    delivery = summary("webhook")["webhook"]

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [request] = receiver.requests
    assert request["signature_valid"]
    body = request["json"]
    assert body["type"] == "summary"
    assert body["delivery_id"] == delivery.pk
    assert "alert" not in body
    sent = body["summary"]
    assert sent["id"] == delivery.summary_id
    assert sent["title"] == TITLE
    assert sent["url"] == f"{settings.SITE_URL}/"
    assert sent["scheduled_for"] == "2026-01-19T07:00:00+00:00"
    assert sent["local_time"] == "2026-01-19T08:00:00+01:00"
    assert sent["time_zone"] == "Europe/Paris"
    assert [c["id"] for c in sent["coins"]] == ["bitcoin", "ethereum"]
    assert sent["coins"][0] | {"path": ""} == {
        "id": "bitcoin",
        "symbol": "BTC",
        "name": "Bitcoin",
        "price": "70250.5",
        "change_24h_pct": "1.25",
        "price_text": "$70,250.50",
        "change_text": "+1.25%",
        "path": "",
    }
    [alert] = sent["alerts"]
    assert alert["description"] == "price is at or above 75000"
    assert (alert["distance"], alert["distance_percent"]) == ("4749.5", "6.76")


def test_apprise_sends_the_title_and_the_whole_summary(summary, owner, receiver):
    config = NotificationSettings.for_user(owner)
    config.apprise_urls = receiver.url.replace("http://", "json://")
    config.save()
    delivery = summary("apprise")["apprise"]

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [request] = receiver.requests
    assert request["json"]["title"] == TITLE
    assert BITCOIN_LINE in request["json"]["message"]
    assert ALERT_LINE in request["json"]["message"]


def test_web_push_shows_the_short_summary_and_keeps_it_for_hours(summary, owner, push_service):
    browser = subscribed(owner, push_service)
    push_service.expected_vapid_key = push.public_key()
    delivery = summary("web_push")["web_push"]

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [sent] = push_service.accepted()
    assert sent.browser.endpoint == browser.endpoint
    assert push_service.problems == []
    assert sent.message["title"] == TITLE
    assert sent.message["body"] == "BTC $70,250.50 +1.25% · ETH $3,512.00 -0.40% · 1 active alert"
    assert sent.message["url"] == "/"
    assert sent.message["tag"] == f"cryptomonitor-delivery-{delivery.pk}"
    assert (sent.headers["TTL"], sent.headers["Urgency"]) == ("21600", "normal")
