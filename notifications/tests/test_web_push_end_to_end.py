"""End to end: a price move reaches a browser's push service from a real worker.

The fake CoinGecko server, poll_once() in this process, a real Celery worker
that evaluates the batch, fires the alert and sends the push, and the local
push service, which checks the VAPID signature and decrypts the message.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from alerts.models import Alert
from notifications import push
from notifications.models import Delivery, DeliveryStatus, PushSubscription
from notifications.tests.conftest import wait_for
from prices.models import Coin
from prices.polling import poll_once

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_price_move_pushes_the_alert_to_the_owners_browser(
    coingecko, owner, workers, push_service
):
    push_service.expected_vapid_key = push.public_key()  # the key the worker signs with
    browser = push_service.new_browser()
    keys = browser.subscription()["keys"]
    PushSubscription.objects.create(
        user=owner, endpoint=browser.endpoint, p256dh=keys["p256dh"], auth=keys["auth"]
    )
    # The push service listens on 127.0.0.1: the worker's opt-in, as for webhooks.
    workers.start(1, OUTBOUND_ALLOW_PRIVATE_IPS="True")
    assert poll_once(force=True).ok
    coin = Coin.objects.get(coingecko_id="bitcoin")
    alert = Alert.objects.create(
        user=owner, coin=coin, condition="above", target=coin.price + 100, channels=["web_push"]
    )

    coingecko.set_price("bitcoin", coin.price + Decimal("250.5"))
    assert poll_once(force=True).ok

    [received] = push_service.wait_for(1)
    assert received.signature_valid
    assert push_service.problems == []
    assert received.headers["TTL"] == "600"
    assert received.headers["Urgency"] == "high"
    assert received.message["url"] == f"/alerts/{alert.pk}/"
    assert received.message["title"].startswith(
        f"BTC price is at or above {alert.target.normalize():f}"
    )
    assert received.message["body"].startswith("Bitcoin: ")
    delivery = wait_for(
        lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).first(), what="sent"
    )
    assert delivery.channel == "web_push"
    assert PushSubscription.objects.get().last_success_at is not None
