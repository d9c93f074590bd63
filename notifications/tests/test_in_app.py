"""In-app delivery: the inbox entry and the popup on the owner's channel group only."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from notifications.delivery import deliver
from notifications.models import DeliveryStatus, InAppNotification
from notifications.notices import load_delivery, notice_for
from notifications.transports.in_app import InAppTransport

pytestmark = pytest.mark.django_db


async def _listen(group: str) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


async def _receive(channel: str, seconds: float) -> dict | None:
    try:
        return await asyncio.wait_for(get_channel_layer().receive(channel), seconds)
    except TimeoutError:
        return None


@pytest.fixture
def listen():
    """Join a channel-layer group as a receiver; leave it after the test."""
    joined: list[tuple[str, str]] = []

    def listen(group: str) -> str:
        channel = async_to_sync(_listen)(group)
        joined.append((group, channel))
        return channel

    yield listen
    for group, channel in joined:
        async_to_sync(get_channel_layer().group_discard)(group, channel)


def test_it_pushes_the_alert_to_the_owners_group_only(owner, stranger, fire, listen):
    mine = listen(f"user.{owner.pk}")
    theirs = listen(f"user.{stranger.pk}")
    [delivery] = fire(owner, channels=["in_app"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    message = async_to_sync(_receive)(mine, 5)
    assert message["type"] == "user.alert"
    alert = message["alert"]
    event = delivery.event
    assert alert == {
        "id": event.alert_id,
        "event_id": event.pk,
        "coin": "Bitcoin",
        "symbol": "BTC",
        "condition": "price is at or above 30000",
        "message": "BTC is at 30123.45, at or above 30000",
        "price": "30123.45",
        "currency": "usd",
        "exchange_rate": "1",
        "price_text": "30123.45 USD",
        "triggered_at": event.triggered_at.isoformat(),
        "url": event.alert.get_absolute_url(),
    }
    assert async_to_sync(_receive)(theirs, 0.5) is None


def test_it_writes_one_unread_inbox_entry(owner, fire):
    [delivery] = fire(owner, channels=["in_app"])

    deliver(delivery.pk)

    [entry] = InAppNotification.objects.filter(user=owner)
    assert entry.is_unread
    assert entry.event_id == delivery.event_id
    assert entry.title == "BTC price is at or above 30000 (now 30123.45 USD)"
    assert entry.url == delivery.event.alert.get_absolute_url()


def test_a_retried_delivery_does_not_add_a_second_entry(owner, fire):
    [delivery] = fire(owner, channels=["in_app"])
    notice = notice_for(load_delivery(delivery.pk))

    InAppTransport(owner).send(notice)
    InAppTransport(owner).send(notice)

    assert InAppNotification.objects.filter(user=owner).count() == 1
