"""Full polls against the fake CoinGecko server, through the real client and Redis."""

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.utils import timezone

from prices import live
from prices.models import Coin, FeedState, PriceRollup, PriceTick
from prices.polling import LOCK_KEY, poll_once
from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins
from prices.tests.pipeline import alert_batches  # noqa: F401

pytestmark = pytest.mark.django_db

REQUEST_FAULTS = [
    ("rate_limit", {}),
    ("rate_limit", {"retry_after": 30}),
    ("500", {}),
    ("503", {"retry_after": 2}),
    ("slow", {"delay": 1.5}),
    ("truncated", {}),
    ("disconnect", {}),
    ("malformed", {}),
    ("wrong_shape", {}),
]
DATA_FAULTS = ["null", "negative", "non_numeric", "missing", "absurd", "nan", "zero"]


@pytest.fixture(autouse=True)
def _one_attempt_per_poll(settings):
    # The client's own retries are A1's to test; here one failed attempt
    # must fail the poll, without sleeping.
    settings.COINGECKO_MAX_RETRIES = 0
    cache.delete(LOCK_KEY)


@pytest.fixture
def prices_subscriber():
    """A channel in the "prices" group of the real Redis channel layer."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("prices", channel)

    async def receive(wait: float = 5):
        return await asyncio.wait_for(layer.receive(channel), wait)

    yield receive
    async_to_sync(layer.group_discard)("prices", channel)


def _stored_prices() -> dict[str, Decimal]:
    return dict(PriceTick.objects.values_list("coin__coingecko_id", "price"))


def _poll_and_commit(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return poll_once(**kwargs)


def test_a_poll_stores_every_tracked_coin_as_coingecko_reported_it(
    fake_coingecko,
    settings,
    alert_batches,  # noqa: F811
):
    report = poll_once()

    bitcoin = fake_coingecko.coins["bitcoin"]
    tick = PriceTick.objects.get(coin__coingecko_id="bitcoin")
    assert report.ok and report.ingest.stored == 10
    assert set(_stored_prices()) == set(settings.TRACKED_COINS)
    assert (tick.price, tick.source) == (bitcoin.price, "coingecko")
    # CoinGecko's timestamps are ISO 8601 to the millisecond.
    assert tick.time == bitcoin.last_updated.replace(
        microsecond=bitcoin.last_updated.microsecond // 1000 * 1000
    )
    assert tick.market_cap == bitcoin.market_cap
    assert Coin.objects.get(coingecko_id="bitcoin").symbol == "btc"
    assert [r.path for r in fake_coingecko.requests] == ["/coins/markets"]


def test_one_broadcast_of_the_changed_coins_reaches_a_redis_subscriber(
    fake_coingecko,
    prices_subscriber,
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    poll_once()
    new_price = fake_coingecko.move("ethereum", 5)

    _poll_and_commit(django_capture_on_commit_callbacks)

    message = async_to_sync(prices_subscriber)()
    assert message["type"] == "prices.update"
    assert [c["id"] for c in message["coins"]] == ["ethereum"]
    assert Decimal(message["coins"][0]["price"]) == new_price
    assert message["polled_at"]
    with pytest.raises(TimeoutError):
        async_to_sync(prices_subscriber)(wait=0.3)


def test_the_alert_batch_carries_the_price_before_the_poll(
    fake_coingecko,
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    before = fake_coingecko.coins["solana"].price
    poll_once()
    after = fake_coingecko.move("solana", -3)

    _poll_and_commit(django_capture_on_commit_callbacks)

    (item,) = alert_batches[-1]
    assert item["coin_id"] == Coin.objects.get(coingecko_id="solana").pk
    assert (Decimal(item["price"]), Decimal(item["previous_price"])) == (after, before)
    assert PriceTick.objects.get(pk=item["tick_id"]).price == after


def test_an_unchanged_market_writes_nothing_and_announces_nothing(
    fake_coingecko,
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    poll_once()

    report = _poll_and_commit(django_capture_on_commit_callbacks)

    assert report.ok and report.ingest.stored == 0
    assert PriceTick.objects.count() == 10
    assert alert_batches == []


@pytest.mark.parametrize(("fault", "options"), REQUEST_FAULTS, ids=[f for f, _ in REQUEST_FAULTS])
def test_a_failed_request_stores_nothing_and_the_next_poll_recovers(
    fake_coingecko,
    fault,
    options,
    alert_batches,  # noqa: F811
):
    poll_once()
    fake_coingecko.move_all(2)
    fake_coingecko.inject(fault, **options)

    failed = poll_once()

    state = FeedState.current()
    assert failed.error and state.consecutive_failures == 1
    assert PriceTick.objects.count() == 10
    assert state.backoff_until is not None
    recovered = poll_once(force=True)
    assert recovered.ok and recovered.ingest.stored == 10
    assert FeedState.current().consecutive_failures == 0


def test_a_retry_after_longer_than_the_client_waits_becomes_the_backoff(
    fake_coingecko,
    alert_batches,  # noqa: F811
):
    fake_coingecko.inject("rate_limit", retry_after=120)

    poll_once()

    assert (poll_once().skipped or "").startswith("backing off")
    assert FeedState.current().backoff_until > FeedState.current().last_attempt_at + timedelta(
        seconds=115
    )


@pytest.mark.parametrize("fault", DATA_FAULTS)
def test_a_bad_value_rejects_only_its_coin(
    fake_coingecko,
    fault,
    settings,
    alert_batches,  # noqa: F811
):
    fake_coingecko.inject(fault, coin="cardano")

    report = poll_once()

    assert [r.coingecko_id for r in report.rejections] == ["cardano"]
    assert set(_stored_prices()) == set(settings.TRACKED_COINS) - {"cardano"}
    assert not PriceRollup.objects.filter(coin__coingecko_id="cardano").exists()
    assert poll_once().ingest.stored == 1  # cardano, once CoinGecko is sane again


def test_unknown_ids_are_left_out_and_known_ones_stored(
    fake_coingecko,
    settings,
    alert_batches,  # noqa: F811
):
    settings.TRACKED_COINS = ["bitcoin", "no-such-coin", "ethereum"]

    report = poll_once()

    assert report.ok
    assert set(_stored_prices()) == {"bitcoin", "ethereum"}
    assert not Coin.objects.filter(coingecko_id="no-such-coin").exists()


def test_a_polled_price_crossing_an_alert_fires_it_through_the_real_task(
    fake_coingecko,
    owner,
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    from alerts.models import Alert, AlertEvent
    from alerts.tasks import evaluate_alerts

    poll_once()
    bitcoin = Coin.objects.get(coingecko_id="bitcoin")
    target = bitcoin.price * Decimal("1.01")
    alert = Alert.objects.create(user=owner, coin=bitcoin, condition="above", target=target)
    fake_coingecko.move("bitcoin", 2)

    _poll_and_commit(django_capture_on_commit_callbacks)
    fired = evaluate_alerts.apply(args=[alert_batches[-1]]).get()

    event = AlertEvent.objects.get(alert=alert)
    assert fired == 1
    assert event.tick.price == fake_coingecko.coins["bitcoin"].price


def test_a_poll_evaluates_alerts_itself_when_the_broker_refuses_the_task(
    fake_coingecko, owner, django_capture_on_commit_callbacks, monkeypatch
):
    from alerts.models import Alert, AlertEvent
    from alerts.tasks import evaluate_alerts

    poll_once()
    bitcoin = Coin.objects.get(coingecko_id="bitcoin")
    alert = Alert.objects.create(
        user=owner, coin=bitcoin, condition="above", target=bitcoin.price * Decimal("1.01")
    )

    def broker_down(batch):
        raise ConnectionError("Redis is unreachable")

    monkeypatch.setattr(evaluate_alerts, "delay", broker_down)
    monkeypatch.setattr("notifications.outbox._enqueue", lambda ids: None)
    fake_coingecko.move("bitcoin", 2)

    _poll_and_commit(django_capture_on_commit_callbacks)

    assert AlertEvent.objects.filter(alert=alert).count() == 1


@pytest.fixture
def two_pages(settings) -> Iterator[FakeCoinGecko]:
    """A fake CoinGecko and 300 tracked coins: two /coins/markets pages a poll."""
    coins = generate_coins(300)
    settings.TRACKED_COINS = [coin.id for coin in coins]
    with FakeCoinGecko(coins) as fake:
        settings.COINGECKO_BASE_URL = fake.url
        yield fake


def test_a_failed_page_keeps_the_other_pages_and_records_the_failure(
    two_pages,
    settings,
    alert_batches,  # noqa: F811
):
    two_pages.inject("500", path="/coins/markets", after=1)

    report = poll_once()

    state = FeedState.current()
    assert "1 of 2 /coins/markets pages failed" in report.error
    assert set(_stored_prices()) == set(settings.TRACKED_COINS[:250])
    # Not marked good: 50 coins were not updated. Not a failure streak either.
    assert (state.last_success_at, state.consecutive_failures) == (None, 0)
    assert "50 coins not updated" in state.last_error
    recovered = poll_once(force=True)
    assert recovered.ok and recovered.ingest.stored == 50
    assert FeedState.current().consecutive_failures == 0


def test_a_retry_after_from_a_later_page_backs_off_a_poll_where_every_page_failed(
    two_pages,
    alert_batches,  # noqa: F811
):
    two_pages.inject("500", path="/coins/markets")
    two_pages.inject("429", path="/coins/markets", retry_after=120)

    report = poll_once()

    state = FeedState.current()
    assert "page 1 of 2" in report.error and "page 2 of 2" in report.error
    assert state.backoff_until > state.last_attempt_at + timedelta(seconds=115)
    assert (poll_once().skipped or "").startswith("backing off")
    assert len(two_pages.requests) == 2


def _poll_with_page_2_timing_out(fake, capture):
    """One poll in which the first page is read and the second times out."""
    fake.move_all(1)
    fake.inject("slow", path="/coins/markets", after=1, delay=1.3)
    with capture(execute=True):
        report = poll_once()
    assert "1 of 2 /coins/markets pages failed" in report.error
    return report


def test_a_batch_of_a_partial_poll_says_stale_once_the_feed_has_been_for_too_long(
    two_pages,
    settings,
    prices_subscriber,
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    settings.PRICE_POLL_SECONDS, settings.PRICE_STALE_AFTER_POLLS = 10, 3
    poll_once()  # every page read: a good poll
    _poll_with_page_2_timing_out(two_pages, django_capture_on_commit_callbacks)
    fresh = async_to_sync(prices_subscriber)()
    # PRICE_STALE_AFTER_POLLS intervals of polls like that one.
    FeedState.objects.update(last_success_at=timezone.now() - timedelta(seconds=31))

    _poll_with_page_2_timing_out(two_pages, django_capture_on_commit_callbacks)

    stale = async_to_sync(prices_subscriber)()
    assert len(stale["coins"]) == 250
    assert fresh["feed"] == {"stale": False, "simulated": False}
    # What the snapshot on (re)connect and /healthz say, so the banner stays.
    assert stale["feed"] == live.feed_status()
    assert (stale["feed"]["stale"], stale["feed"]["problem"]) == (True, "answered in part")


def test_partial_polls_do_not_grow_the_backoff_of_the_next_failure(
    two_pages,
    settings,
    alert_batches,  # noqa: F811
):
    settings.PRICE_POLL_SECONDS, settings.COINGECKO_BACKOFF_CAP_SECONDS = 10, 300
    for _ in range(4):
        two_pages.inject("500", path="/coins/markets", after=1)
        assert "1 of 2 /coins/markets pages failed" in poll_once().error
    two_pages.inject("500", path="/coins/markets", times=2)

    assert "no /coins/markets page could be read" in poll_once().error

    state = FeedState.current()
    # CoinGecko answered the polls before: the first full failure waits one
    # interval at most (backoff(1)), not 2**4 intervals.
    assert state.consecutive_failures == 1
    assert state.backoff_until - state.last_attempt_at <= timedelta(seconds=10)


@pytest.mark.django_db(transaction=True)
def test_the_first_good_poll_after_an_outage_broadcasts_a_fresh_feed(
    fake_coingecko,
    prices_subscriber,
    alert_batches,  # noqa: F811
):
    fake_coingecko.inject("500")
    poll_once()
    assert live.feed_status()["stale"]
    assert async_to_sync(prices_subscriber)()["type"] == "prices.feed"

    poll_once(force=True)  # committed for real: the broadcast follows the commit

    message = async_to_sync(prices_subscriber)()
    assert message["feed"] == {"stale": False, "simulated": False}


def test_a_failed_poll_tells_open_pages_the_feed_is_stale(
    fake_coingecko,
    prices_subscriber,
    alert_batches,  # noqa: F811
):
    fake_coingecko.inject("500")

    poll_once()  # no poll has ever succeeded: stale at once

    message = async_to_sync(prices_subscriber)()
    assert message["type"] == "prices.feed"
    assert (message["feed"]["stale"], message["feed"]["failures"]) == (True, 1)


def test_a_poll_skipped_while_backing_off_repeats_the_stale_state_to_open_pages(
    fake_coingecko,
    prices_subscriber,
    alert_batches,  # noqa: F811
):
    fake_coingecko.inject("500")
    poll_once()
    async_to_sync(prices_subscriber)()

    assert poll_once().skipped.startswith("backing off")

    message = async_to_sync(prices_subscriber)()
    assert (message["feed"]["stale"], message["feed"]["simulated"]) == (True, False)


def test_a_poll_skipped_while_backing_off_says_nothing_while_the_feed_is_fresh(
    fake_coingecko,
    prices_subscriber,
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    _poll_and_commit(django_capture_on_commit_callbacks)  # a good poll: fresh
    fake_coingecko.inject("500")
    poll_once()
    while True:  # drain the first poll's batch and the failure's feed message
        if async_to_sync(prices_subscriber)()["type"] == "prices.feed":
            break

    assert poll_once().skipped.startswith("backing off")

    with pytest.raises(TimeoutError):
        async_to_sync(prices_subscriber)(wait=0.3)
