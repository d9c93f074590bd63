"""The shared-decode pub/sub channel layer, against the real Redis (TEST_REDIS_URL)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from common.channel_layers import SharedDecodePubSubChannelLayer

BATCH = {"type": "prices.update", "coins": [{"id": "bitcoin", "price": "1"}], "polled_at": "t"}


@pytest.fixture
def layer() -> SharedDecodePubSubChannelLayer:
    return SharedDecodePubSubChannelLayer(hosts=[settings.REDIS_URL], prefix="cm:test-shared")


def test_it_decodes_the_same_broadcast_once(layer, monkeypatch):
    raw = layer.serialize(BATCH)
    decoded = []
    original = SharedDecodePubSubChannelLayer.__mro__[1].deserialize
    monkeypatch.setattr(
        SharedDecodePubSubChannelLayer.__mro__[1],
        "deserialize",
        lambda self, message: decoded.append(message) or original(self, message),
    )
    first, second = layer.deserialize(raw), layer.deserialize(raw)
    assert first == second == BATCH
    assert len(decoded) == 1


def test_each_consumer_gets_its_own_top_level_dict(layer):
    raw = layer.serialize(BATCH)
    first = layer.deserialize(raw)
    first["type"] = "changed by a consumer"
    assert layer.deserialize(raw)["type"] == "prices.update"


def test_equal_but_different_bytes_are_decoded_again(layer):
    other = {**BATCH, "polled_at": "u"}
    assert layer.deserialize(layer.serialize(BATCH))["polled_at"] == "t"
    assert layer.deserialize(layer.serialize(other))["polled_at"] == "u"


def test_a_group_broadcast_reaches_every_member(layer):
    async def scenario() -> list[dict]:
        channels = [await layer.new_channel() for _ in range(3)]
        for channel in channels:
            await layer.group_add("prices", channel)
        await layer.group_send("prices", BATCH)
        received = [await layer.receive(channel) for channel in channels]
        await layer.flush()
        return received

    assert async_to_sync(scenario)() == [BATCH] * 3
