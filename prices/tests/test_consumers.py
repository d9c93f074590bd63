"""The /ws/prices/ consumer against the real Redis channel layer (TEST_REDIS_URL).

Each test body is a coroutine run through async_to_sync, so the consumer's
database_sync_to_async calls run on the test's thread and see the test's
uncommitted rows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from common.live_groups import user_group
from prices import fanout, live
from prices.consumers import PriceConsumer
from prices.models import Coin, FeedState, PriceSource
from prices.tests.metric_values import metric_value
from prices.websocket_frames import FRAME_KEY

pytestmark = pytest.mark.django_db
# Generous: the suite shares two cores with servers and other test runs.
TIMEOUT = 5

ALERT = {
    "id": 7,
    "event_id": 70,
    "coin": "bitcoin",
    "symbol": "btc",
    "condition": "above",
    "message": "Bitcoin rose above 30,000 USD",
    "price": "30001.5",
    "triggered_at": "2026-11-21T05:00:00+00:00",
    "url": "/alerts/7/",
}


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


LAYERS = {
    "redis": "channels_redis.core.RedisChannelLayer",
    "pubsub": "common.channel_layers.SharedDecodePubSubChannelLayer",
}


@pytest.fixture(autouse=True, params=list(LAYERS))
def channel_layer_backend(request, settings) -> str:
    """Run every test on the test layer and on the production default (pub/sub)."""
    channel_prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "BACKEND": LAYERS[request.param],
            # The run's own prefix (tests_support.settings): Redis pub/sub
            # channels are shared by every database number, so a fixed one
            # let another test run's batches reach these sockets.
            "CONFIG": {"hosts": settings.CHANNEL_LAYER_HOSTS, "prefix": channel_prefix},
        }
    }
    return request.param


@pytest.fixture(autouse=True)
def clean_channel_layer(channel_layer_backend) -> None:
    # Groups live in Redis and outlive a test; start each one with none.
    async_to_sync(get_channel_layer().flush)()
    # The per-process texts would carry one test's coins into the next.
    live.process_texts.clear()


@pytest.fixture
def coins() -> list[Coin]:
    now = timezone.now()
    return [
        Coin.objects.create(
            coingecko_id=coingecko_id,
            symbol=symbol,
            name=name,
            market_cap_rank=rank,
            is_tracked=tracked,
            price=Decimal(price),
            price_updated_at=now,
            price_source=PriceSource.COINGECKO,
        )
        for rank, (coingecko_id, symbol, name, price, tracked) in enumerate(
            [
                ("bitcoin", "btc", "Bitcoin", "27123.45", True),
                ("ethereum", "eth", "Ethereum", "1650.1", True),
                ("dogecoin", "doge", "Dogecoin", "0.0612", False),
            ],
            start=1,
        )
    ]


async def opened(user=None) -> tuple[WebsocketCommunicator, dict]:
    """A communicator past its handshake, and the snapshot it got on connect."""
    communicator = WebsocketCommunicator(PriceConsumer.as_asgi(), "/ws/prices/")
    if user is not None:
        communicator.scope["user"] = user
    accepted, _ = await communicator.connect(TIMEOUT)
    assert accepted
    snapshot = await communicator.receive_json_from(TIMEOUT)
    assert snapshot["type"] == "snapshot"
    return communicator, snapshot


async def connected(user=None) -> WebsocketCommunicator:
    return (await opened(user))[0]


def connect_snapshot() -> dict:
    """The snapshot a new anonymous client gets on connect."""

    async def scenario() -> dict:
        communicator, snapshot = await opened()
        await communicator.disconnect()
        return snapshot

    return async_to_sync(scenario)()


def batch(polled_at: str, *coins: tuple[str, str]) -> dict:
    return {
        "type": "prices.update",
        "coins": [{"id": coin_id, "price": price} for coin_id, price in coins],
        "polled_at": polled_at,
    }


def test_it_sends_a_snapshot_of_tracked_coins_on_connect(coins):
    message = connect_snapshot()
    assert message["type"] == "snapshot"
    assert [coin["id"] for coin in message["coins"]] == ["bitcoin", "ethereum"]
    assert message["coins"][0] == coins[0].snapshot()
    assert message["currency"] == "usd"


def test_its_snapshot_says_the_feed_is_stale_when_no_poll_succeeded(coins):
    feed = connect_snapshot()["feed"]

    assert (feed["stale"], feed["simulated"], feed["last_success_at"]) == (True, False, None)


def test_its_snapshot_says_fresh_and_simulated_when_so(coins, settings):
    settings.PRICE_SOURCE = "simulated"
    FeedState.objects.create(name="simulated", last_success_at=timezone.now())
    assert connect_snapshot()["feed"] == {"stale": False, "simulated": True}


def test_it_forwards_every_price_batch(coins):
    async def scenario():
        communicator = await connected()
        await get_channel_layer().group_send(
            "prices", batch("2026-11-21T05:00:00+00:00", ("bitcoin", "27200"))
        )
        message = await communicator.receive_json_from(TIMEOUT)
        await communicator.disconnect()
        assert message == {
            "type": "prices",
            "polled_at": "2026-11-21T05:00:00+00:00",
            "v": 2,
            "fields": list(live.BATCH_FIELDS),
            "coins": [["bitcoin", "27200", None, None, None, None]],
        }

    run(scenario)


def test_a_batch_row_holds_what_changes_with_a_price_and_the_time_in_ms(coins):
    bitcoin = coins[0]
    bitcoin.market_cap, bitcoin.volume_24h = Decimal("528000000000.5"), Decimal("12000000000")
    bitcoin.change_24h_pct = Decimal("-1.25")
    bitcoin.price_updated_at = datetime(2026, 11, 21, 5, 0, 0, 123456, tzinfo=UTC)
    event = {"type": "prices.update", "coins": [bitcoin.snapshot()], "polled_at": "t"}
    message = json.loads(live.process_texts.batch_text(event))
    assert dict(zip(message["fields"], message["coins"][0], strict=True)) == {
        "id": "bitcoin",
        "price": "27123.45",
        "change_24h_pct": "-1.25",
        "market_cap": "528000000000.5",
        "volume_24h": "12000000000",
        "updated_at": 1795237200123,
    }


def test_it_answers_ping_with_pong(coins):
    async def scenario():
        communicator = await connected()
        await communicator.send_json_to({"type": "ping"})
        message = await communicator.receive_json_from(TIMEOUT)
        await communicator.disconnect()
        assert message == {"type": "pong"}

    run(scenario)


def test_subscribe_narrows_the_snapshot_and_names_unknown_ids(coins):
    async def scenario():
        communicator = await connected()
        await communicator.send_json_to(
            {"type": "subscribe", "coins": ["dogecoin", "bitcoin", "no-such-coin", "bitcoin"]}
        )
        subscribed = await communicator.receive_json_from(TIMEOUT)
        snapshot = await communicator.receive_json_from(TIMEOUT)
        await communicator.disconnect()
        assert subscribed == {
            "type": "subscribed",
            "coins": ["dogecoin", "bitcoin"],
            "unknown": ["no-such-coin"],
        }
        assert snapshot["type"] == "snapshot"
        assert sorted(coin["id"] for coin in snapshot["coins"]) == ["bitcoin", "dogecoin"]

    run(scenario)


def test_subscribe_narrows_later_price_batches(coins):
    async def scenario():
        communicator = await connected()
        await communicator.send_json_to({"type": "subscribe", "coins": ["bitcoin"]})
        await communicator.receive_json_from(TIMEOUT)
        await communicator.receive_json_from(TIMEOUT)
        layer = get_channel_layer()
        await layer.group_send("prices", batch("t1", ("ethereum", "1700")))
        await layer.group_send("prices", batch("t2", ("ethereum", "1701"), ("bitcoin", "27300")))
        message = await communicator.receive_json_from(TIMEOUT)
        nothing_more = await communicator.receive_nothing(timeout=0.2)
        await communicator.disconnect()
        assert message["polled_at"] == "t2"
        assert message["coins"] == [["bitcoin", "27300", None, None, None, None]]
        assert nothing_more

    run(scenario)


async def connected_full_and_narrowed() -> tuple[WebsocketCommunicator, WebsocketCommunicator]:
    """Two sockets: one hearing every coin, one subscribed to bitcoin only."""
    everything = await connected()
    narrowed = await connected()
    await narrowed.send_json_to({"type": "subscribe", "coins": ["bitcoin"]})
    await narrowed.receive_json_from(TIMEOUT)  # subscribed
    await narrowed.receive_json_from(TIMEOUT)  # its snapshot
    return everything, narrowed


def test_a_batch_carries_the_feed_state_its_producer_read_to_every_client(coins):
    stale = {"stale": True, "simulated": False}

    async def scenario():
        everything, narrowed = await connected_full_and_narrowed()
        event = {**batch("t1", ("bitcoin", "27300")), "feed": stale}
        await get_channel_layer().group_send("prices", event)
        messages = [await c.receive_json_from(TIMEOUT) for c in (everything, narrowed)]
        for communicator in (everything, narrowed):
            await communicator.disconnect()
        # Stale although a batch came: a poll may read only some of the coins.
        assert [message["feed"] for message in messages] == [stale, stale]

    run(scenario)


def test_a_socket_idle_for_longer_than_the_layers_blocking_read_still_receives(coins):
    async def scenario():
        communicator = await connected()
        # RedisChannelLayer blocks 5 s per read: an idle socket outlives one.
        await asyncio.sleep(6)
        await get_channel_layer().group_send("prices", batch("t1", ("bitcoin", "27300")))
        message = await communicator.receive_json_from(TIMEOUT)
        await communicator.disconnect()
        assert message["polled_at"] == "t1"

    run(scenario)


def test_a_failed_polls_feed_state_reaches_every_client_even_a_narrowed_one(coins):
    stale = {"stale": True, "simulated": False}

    async def scenario():
        everything, narrowed = await connected_full_and_narrowed()
        await get_channel_layer().group_send("prices", {"type": "prices.feed", "feed": stale})
        messages = [await c.receive_json_from(TIMEOUT) for c in (everything, narrowed)]
        for communicator in (everything, narrowed):
            await communicator.disconnect()
        assert messages == [{"type": "feed", "feed": stale}] * 2

    run(scenario)


@pytest.mark.parametrize(
    ("sent", "complaint"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('"ping"', "expected a JSON object"),
        ('{"kind": "ping"}', "expected a JSON object"),
        ('{"type": "launch"}', "unknown message type"),
        ('{"type": ["ping"]}', "unknown message type"),
        ('{"type": "subscribe"}', "a list of CoinGecko ids"),
        ('{"type": "subscribe", "coins": "bitcoin"}', "a list of CoinGecko ids"),
        ('{"type": "subscribe", "coins": []}', "at least one"),
        ('{"type": "subscribe", "coins": [42]}', "not a CoinGecko id"),
        ('{"type": "subscribe", "coins": ["Bitcoin!"]}', "not a CoinGecko id"),
    ],
)
def test_it_answers_malformed_messages_with_an_error_and_keeps_running(coins, sent, complaint):
    async def scenario():
        communicator = await connected()
        await communicator.send_to(text_data=sent)
        error = await communicator.receive_json_from(TIMEOUT)
        await communicator.send_json_to({"type": "ping"})
        pong = await communicator.receive_json_from(TIMEOUT)
        await communicator.disconnect()
        assert error["type"] == "error"
        assert complaint in error["message"]
        assert pong == {"type": "pong"}

    run(scenario)


def test_it_rejects_subscribing_to_more_than_500_coins(coins):
    async def scenario():
        communicator = await connected()
        # Short ids, so the frame itself stays under the 4 KiB limit.
        await communicator.send_json_to(
            {"type": "subscribe", "coins": [f"c{n}" for n in range(501)]}
        )
        error = await communicator.receive_json_from(TIMEOUT)
        await communicator.disconnect()
        assert error == {"type": "error", "message": "subscribe accepts at most 500 coin ids"}

    run(scenario)


def test_it_refuses_binary_frames_and_keeps_running(coins):
    async def scenario():
        communicator = await connected()
        await communicator.send_to(bytes_data=b'{"type": "ping"}')
        error = await communicator.receive_json_from(TIMEOUT)
        await communicator.send_json_to({"type": "ping"})
        pong = await communicator.receive_json_from(TIMEOUT)
        await communicator.disconnect()
        assert error["type"] == "error"
        assert pong == {"type": "pong"}

    run(scenario)


@pytest.mark.parametrize("padding", ["x" * 4100, "\u20ac" * 1400], ids=["ascii", "multibyte"])
def test_it_refuses_frames_over_4_kib_and_closes_with_1009(coins, padding):
    async def scenario():
        communicator = await connected()
        await communicator.send_to(text_data=f'{{"type": "ping", "pad": "{padding}"}}')
        error = await communicator.receive_json_from(TIMEOUT)
        closing = await communicator.receive_output(TIMEOUT)
        await communicator.disconnect()
        assert error == {"type": "error", "message": "message larger than 4096 bytes"}
        assert closing == {"type": "websocket.close", "code": 1009}

    run(scenario)


def test_it_delivers_a_users_alert_only_to_that_user(coins, owner, stranger):
    async def scenario():
        alice = await connected(owner)
        mallory = await connected(stranger)
        await get_channel_layer().group_send(
            f"user.{owner.pk}", {"type": "user.alert", "alert": ALERT}
        )
        popup = await alice.receive_json_from(TIMEOUT)
        stranger_got_nothing = await mallory.receive_nothing(timeout=0.3)
        await alice.disconnect()
        await mallory.disconnect()
        assert popup == {"type": "alert", **ALERT}
        assert stranger_got_nothing

    run(scenario)


def test_anonymous_visitors_get_prices_but_no_user_events(coins, owner):
    async def scenario():
        visitor = await connected()
        alice = await connected(owner)
        layer = get_channel_layer()
        for group in (f"user.{owner.pk}", "user.None", "user."):
            await layer.group_send(group, {"type": "user.alert", "alert": ALERT})
        await layer.group_send("prices", batch("t3", ("bitcoin", "1")))
        visitor_first = await visitor.receive_json_from(TIMEOUT)
        # The prices group and a user's reach a socket by different routes
        # (prices.fanout): no order between the two.
        alice_got = {(await alice.receive_json_from(TIMEOUT))["type"] for _ in range(2)}
        visitor_nothing_more = await visitor.receive_nothing(0.5)
        await visitor.disconnect()
        await alice.disconnect()
        assert visitor_first["type"] == "prices"
        assert visitor_nothing_more
        assert alice_got == {"alert", "prices"}

    run(scenario)


def test_an_alert_cannot_change_the_message_type(coins, owner):
    async def scenario():
        alice = await connected(owner)
        await get_channel_layer().group_send(
            f"user.{owner.pk}", {"type": "user.alert", "alert": {**ALERT, "type": "prices"}}
        )
        popup = await alice.receive_json_from(TIMEOUT)
        await alice.disconnect()
        assert popup["type"] == "alert"

    run(scenario)


class TestOrigins:
    """The full ASGI application refuses pages served from other sites."""

    @staticmethod
    async def handshake(origin: bytes) -> bool:
        from cryptomonitor.asgi import application

        communicator = WebsocketCommunicator(
            application, "/ws/prices/", headers=[(b"origin", origin), (b"host", b"localhost")]
        )
        accepted, _ = await communicator.connect(TIMEOUT)
        if accepted:
            await communicator.receive_json_from(TIMEOUT)
        await communicator.disconnect()
        return accepted

    def test_it_refuses_a_foreign_origin(self, coins):
        assert not async_to_sync(self.handshake)(b"https://evil.example")

    def test_it_accepts_its_own_origin(self, coins):
        assert async_to_sync(self.handshake)(b"http://localhost:8000")


def test_feed_state_older_than_three_polls_is_stale(coins, settings):
    settings.PRICE_SOURCE = "coingecko"
    FeedState.objects.create(
        name="coingecko",
        last_success_at=timezone.now() - timedelta(seconds=settings.PRICE_POLL_SECONDS * 4),
    )
    assert connect_snapshot()["feed"]["stale"] is True


def test_a_client_connecting_after_a_batch_gets_the_new_prices(coins):
    async def scenario():
        first = await connected()
        await Coin.objects.filter(coingecko_id="bitcoin").aupdate(price=Decimal("30000"))
        # The batch that announces the change reaches this process first.
        await get_channel_layer().group_send("prices", batch("t4", ("bitcoin", "30000")))
        await first.receive_json_from(TIMEOUT)
        second, snapshot = await opened()
        await first.disconnect()
        await second.disconnect()
        assert snapshot["coins"][0]["price"] == "30000"

    run(scenario)


def test_a_batch_is_encoded_once_per_process(coins):
    event = batch("t5", ("bitcoin", "27300"))
    first = live.process_texts.batch_text(event)
    again = live.process_texts.batch_text({**event, "coins": list(event["coins"])})
    assert again is first
    assert live.process_texts.batch_text(batch("t6", ("bitcoin", "1"))) is not first


def test_every_full_subscriber_is_sent_one_frame_made_once_per_batch(coins):
    async def scenario():
        first, second = await connected(), await connected()
        await get_channel_layer().group_send("prices", batch("t7", ("bitcoin", "27300")))
        # The ASGI messages as the consumers hand them to the server.
        sent = [await c.output_queue.get() for c in (first, second)]
        await first.disconnect()
        await second.disconnect()
        assert sent[0] is sent[1]
        frame, text = sent[0][FRAME_KEY], sent[0]["text"]
        assert frame == b"\x81\x7e" + len(text.encode()).to_bytes(2, "big") + text.encode()
        assert json.loads(text)["coins"][0][:2] == ["bitcoin", "27300"]

    run(scenario)


async def prices_group_members(channel_layer_backend: str) -> int:
    """How many channels the layer hands each `prices` message to, from this process."""
    layer = get_channel_layer()
    if channel_layer_backend == "redis":  # the group is a sorted set in Redis
        return await layer.connection(0).zcard(layer._group_key("prices"))
    loop_layer = layer._get_layer()  # groups by their Redis channel's name
    return len(loop_layer.groups.get(loop_layer._get_group_channel_name("prices"), ()))


def test_a_process_is_one_member_of_the_prices_group_however_many_sockets_it_serves(
    coins, channel_layer_backend
):
    async def scenario():
        sockets = [await connected() for _ in range(3)]
        members = await prices_group_members(channel_layer_backend)
        await get_channel_layer().group_send("prices", batch("t8", ("bitcoin", "27400")))
        got = [await socket.receive_json_from(TIMEOUT) for socket in sockets]
        for socket in sockets:
            await socket.disconnect()
        assert members == 1
        assert [message["coins"][0][:2] for message in got] == [["bitcoin", "27400"]] * 3

    run(scenario)


def test_a_process_leaves_the_prices_group_with_its_last_socket_and_joins_again_with_the_next(
    coins, channel_layer_backend
):
    async def scenario():
        first = await connected()
        await first.disconnect()
        await asyncio.sleep(0.2)  # the fan-out's task leaves as it ends
        members_after_the_last = await prices_group_members(channel_layer_backend)
        second = await connected()
        await get_channel_layer().group_send("prices", batch("t10", ("bitcoin", "27600")))
        got = await second.receive_json_from(TIMEOUT)
        await second.disconnect()
        assert members_after_the_last == 0
        assert got["coins"][0][:2] == ["bitcoin", "27600"]

    run(scenario)


def test_the_fan_out_task_has_ended_not_been_cancelled_when_the_last_socket_has_left(coins):
    # Cancelled inside the core Redis layer's receive(), it never finished,
    # and the event loop could not close.
    async def scenario():
        first = await connected()
        second = await connected()
        listener = fanout.for_this_loop().listener
        await first.disconnect()
        running_with_one_left = not listener.task.done()
        await second.disconnect()
        assert running_with_one_left
        assert listener.task.done()
        assert not listener.task.cancelled()
        assert fanout.for_this_loop().listener is None

    run(scenario)


def test_a_batch_after_the_fan_out_has_stopped_and_started_again_reaches_each_socket_once(coins):
    async def scenario():
        first = await connected()
        await first.disconnect()
        second = await connected()
        await get_channel_layer().group_send("prices", batch("t11", ("bitcoin", "27700")))
        got = await second.receive_json_from(TIMEOUT)
        nothing_more = await second.receive_nothing(0.5)
        await second.disconnect()
        assert got["coins"][0][:2] == ["bitcoin", "27700"]
        assert nothing_more

    run(scenario)


def test_a_socket_is_refused_while_redis_is_away_and_the_next_one_hears_batches_again(coins):
    async def scenario():
        working = get_channel_layer()
        # Nothing listens on port 1: every connection to this "Redis" is refused.
        away = type(working)(hosts=["redis://127.0.0.1:1"])
        channel_layers.set(DEFAULT_CHANNEL_LAYER, away)
        try:
            refused = WebsocketCommunicator(PriceConsumer.as_asgi(), "/ws/prices/")
            with pytest.raises(RedisConnectionError):
                await refused.connect(TIMEOUT)
        finally:
            channel_layers.set(DEFAULT_CHANNEL_LAYER, working)
        second = await connected()
        await working.group_send("prices", batch("t12", ("bitcoin", "27800")))
        got = await second.receive_json_from(TIMEOUT)
        await second.disconnect()
        assert got["coins"][0][:2] == ["bitcoin", "27800"]

    run(scenario)


def test_connecting_and_leaving_again_and_again_leaves_no_pub_sub_subscription_behind(
    coins, channel_layer_backend
):
    if channel_layer_backend != "pubsub":
        pytest.skip("the core layer subscribes to nothing")

    async def scenario():
        loop_layer = get_channel_layer()._get_layer()
        for _ in range(3):
            socket = await connected()
            await socket.disconnect()
        assert loop_layer.channels == {}

    run(scenario)


def test_a_fan_out_dropped_from_the_group_without_an_error_joins_again(coins, monkeypatch):
    # The core layer forgets a member after group_expiry; no batch comes to
    # wake the listener then, so a timer does.
    monkeypatch.setattr(fanout, "REJOIN_SECONDS", 0.3)

    async def scenario():
        socket = await connected()
        layer = get_channel_layer()
        await layer.group_discard("prices", fanout.for_this_loop().listener.channel)
        await asyncio.sleep(0.8)
        await layer.group_send("prices", batch("t13", ("bitcoin", "27900")))
        got = await socket.receive_json_from(TIMEOUT)
        await socket.disconnect()
        assert got["coins"][0][:2] == ["bitcoin", "27900"]

    run(scenario)


def test_a_stopped_fan_out_leaves_no_rejoin_timer_behind(coins, monkeypatch):
    # A timer left scheduled would wake a listener that is gone, an hour later.
    monkeypatch.setattr(fanout, "REJOIN_SECONDS", 0.2)

    async def scenario():
        socket = await connected()
        listener = fanout.for_this_loop().listener
        await asyncio.sleep(0.7)  # it joined again, each time with a new timer
        await socket.disconnect()
        timer = listener.rejoin_timer
        assert listener.task.done()
        assert timer is None or timer.cancelled()

    run(scenario)


def test_a_socket_a_batch_cannot_be_sent_to_is_closed_with_1011_and_the_others_get_it(coins):
    async def scenario():
        broken, narrowed = await connected_full_and_narrowed()
        texts = live.process_texts

        def fail(event):
            raise KeyError("coins")

        texts.batch_send = fail  # only full subscribers build the shared frame
        try:
            await get_channel_layer().group_send("prices", batch("t14", ("bitcoin", "28000")))
            closed = await broken.receive_output(TIMEOUT)
            got = await narrowed.receive_json_from(TIMEOUT)
        finally:
            del texts.batch_send
        await narrowed.disconnect()
        assert closed == {"type": "websocket.close", "code": 1011}
        assert got["coins"][0][:2] == ["bitcoin", "28000"]

    run(scenario)


def test_a_batch_published_while_a_socket_reads_its_snapshot_follows_that_snapshot(coins):
    async def scenario():
        first = await connected()  # the process hears the group already
        texts = live.process_texts
        read_snapshot = texts.snapshot_text

        def snapshot_then_a_batch() -> str:
            text = read_snapshot()
            async_to_sync(get_channel_layer().group_send)(
                "prices", batch("t9", ("bitcoin", "27500"))
            )
            return text

        texts.snapshot_text = snapshot_then_a_batch
        try:
            second = WebsocketCommunicator(PriceConsumer.as_asgi(), "/ws/prices/")
            await second.connect(TIMEOUT)
            received = [await second.receive_json_from(TIMEOUT) for _ in range(2)]
        finally:
            del texts.snapshot_text
        await first.disconnect()
        await second.disconnect()
        assert [message["type"] for message in received] == ["snapshot", "prices"]

    run(scenario)


def test_the_layer_under_test_is_the_one_configured(channel_layer_backend):
    expected = LAYERS[channel_layer_backend].rsplit(".", 1)[1]
    assert type(get_channel_layer()).__name__ == expected


def test_a_deeply_nested_frame_gets_an_error_and_the_socket_stays_open(coins):
    async def scenario():
        communicator = await connected()
        # 2,000 brackets: under the 4 KiB frame limit, past Python's parser depth.
        await communicator.send_to(text_data="[" * 2000)
        error = await communicator.receive_json_from(TIMEOUT)
        await communicator.send_json_to({"type": "ping"})
        pong = await communicator.receive_json_from(TIMEOUT)
        await communicator.disconnect()
        assert error == {"type": "error", "message": "JSON nested too deeply"}
        assert pong == {"type": "pong"}

    run(scenario)


def test_subscribes_are_answered_without_queries_once_the_catalogue_is_read(coins):
    subscriptions = [
        ["bitcoin"],
        ["dogecoin", "ethereum"],
        ["no-such-coin", "dogecoin"],
        [f"unknown-{n}" for n in range(200)],
    ]

    async def scenario(queries: CaptureQueriesContext) -> list[int]:
        # The consumer queries on this test's thread: count there.
        queries_so_far = sync_to_async(lambda: len(queries))
        communicator = await connected()
        counts = []
        for coin_ids in subscriptions * 3:
            before = await queries_so_far()
            await communicator.send_json_to({"type": "subscribe", "coins": coin_ids})
            subscribed = await communicator.receive_json_from(TIMEOUT)
            snapshot = await communicator.receive_json_from(TIMEOUT)
            assert subscribed["type"] == "subscribed"
            assert sorted(coin["id"] for coin in snapshot["coins"]) == sorted(subscribed["coins"])
            counts.append(await queries_so_far() - before)
        await communicator.disconnect()
        return counts

    with CaptureQueriesContext(connection) as queries:
        counts = async_to_sync(scenario)(queries)
    # The catalogue's ids once, the untracked dogecoin once; nothing after.
    assert counts[:2] == [1, 1], counts
    assert sum(counts[2:]) == 0, counts


def test_a_sign_out_event_closes_only_that_users_socket_with_4001(coins, owner, stranger):
    async def scenario():
        alice = await connected(owner)
        mallory = await connected(stranger)
        layer = get_channel_layer()
        await layer.group_send(
            user_group(owner.pk), {"type": "user.signed_out", "reason": "signed out"}
        )
        closing = await alice.receive_output(TIMEOUT)
        await layer.group_send(user_group(owner.pk), {"type": "user.alert", "alert": ALERT})
        alice_got_nothing_more = await alice.receive_nothing(timeout=0.3)
        await mallory.send_json_to({"type": "ping"})
        pong = await mallory.receive_json_from(TIMEOUT)
        await alice.disconnect()
        await mallory.disconnect()
        assert closing == {"type": "websocket.close", "code": 4001, "reason": "signed out"}
        assert alice_got_nothing_more
        assert pong == {"type": "pong"}

    run(scenario)


def test_a_socket_whose_consumer_fails_leaves_the_connections_gauge(coins):
    def open_sockets() -> float:
        return metric_value("cryptomonitor_websocket_connections")

    async def scenario() -> tuple[float, float]:
        communicator, _ = await opened()
        while_open = open_sockets()
        # A message no handler takes: the consumer raises, no disconnect runs.
        await communicator.send_input({"type": "no.such.handler"})
        with pytest.raises(ValueError, match="No handler"):
            await communicator.wait(TIMEOUT)
        return while_open, open_sockets()

    before = open_sockets()

    assert async_to_sync(scenario)() == (before + 1, before)
