import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from prices.models import Coin, FeedState, PriceTick
from prices.polling import LOCK_KEY, SPACING_KEY, backoff, poll_once
from prices.quotes import FeedError, FetchResult, Rejection
from prices.sources import SimulatedSource, tracked_coin_ids
from prices.tests.pipeline import T0, alert_batches, quote  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_lock_left_over():
    cache.delete_many([LOCK_KEY, SPACING_KEY])
    yield
    cache.delete_many([LOCK_KEY, SPACING_KEY])


class FailingSource:
    """A source whose fetch fails the way the CoinGecko client reports failures."""

    price_source = "coingecko"

    def __init__(self, retry_after: timedelta | None = None) -> None:
        self.retry_after = retry_after

    def fetch(self, coin_ids):
        raise FeedError("HTTP 503 from CoinGecko", retry_after=self.retry_after)


def test_a_failed_fetch_is_recorded_and_backs_the_feed_off():
    report = poll_once(FailingSource())

    state = FeedState.current()
    assert report.error == "HTTP 503 from CoinGecko"
    assert state.consecutive_failures == 1
    assert state.last_error == "HTTP 503 from CoinGecko"
    assert state.is_backing_off()
    assert not PriceTick.objects.exists()


def test_retry_after_from_the_feed_sets_the_backoff():
    poll_once(FailingSource(retry_after=timedelta(seconds=90)))

    wait = FeedState.current().backoff_until - timezone.now()
    assert timedelta(seconds=85) < wait <= timedelta(seconds=90)


def test_it_skips_polls_while_backing_off():
    poll_once(FailingSource(retry_after=timedelta(seconds=90)))

    report = poll_once(SimulatedSource())

    assert report.skipped.startswith("backing off")
    assert not PriceTick.objects.exists()


def test_forcing_a_poll_ignores_the_backoff_and_recovers():
    poll_once(FailingSource(retry_after=timedelta(seconds=90)))

    report = poll_once(SimulatedSource(), force=True)

    state = FeedState.current()
    assert report.ok
    assert state.consecutive_failures == 0
    assert state.backoff_until is None
    assert state.last_success_at is not None


def test_backoff_grows_with_failures_and_stops_at_the_cap(settings):
    settings.PRICE_POLL_SECONDS = 10
    settings.COINGECKO_BACKOFF_CAP_SECONDS = 300

    assert timedelta(seconds=5) <= backoff(1) <= timedelta(seconds=10)
    assert timedelta(seconds=20) <= backoff(3) <= timedelta(seconds=40)
    assert timedelta(seconds=150) <= backoff(30) <= timedelta(seconds=300)


def test_a_poll_that_is_already_running_is_not_repeated():
    cache.add(LOCK_KEY, "someone-else", timeout=60)

    report = poll_once(SimulatedSource())

    assert report.skipped == "another poll is running"
    assert not PriceTick.objects.exists()
    assert cache.get(LOCK_KEY) == "someone-else"


def test_beats_second_poll_within_the_interval_is_skipped():
    # Two beats by mistake: the second one's send, seconds after the first.
    assert poll_once(SimulatedSource(), spaced=True).ok

    report = poll_once(SimulatedSource(), spaced=True)

    assert report.skipped == "polled less than an interval ago"


def test_beats_next_poll_goes_through_once_the_spacing_has_passed(settings):
    settings.PRICE_POLL_SECONDS = 2  # a spacing of 1 s
    assert poll_once(SimulatedSource(), spaced=True).ok
    time.sleep(1.2)

    assert poll_once(SimulatedSource(), spaced=True).ok


def test_a_poll_releases_its_lock():
    poll_once(SimulatedSource())

    assert cache.get(LOCK_KEY) is None


def test_a_response_where_every_coin_is_rejected_counts_as_a_failure():
    class AllRejected:
        price_source = "coingecko"

        def fetch(self, coin_ids):
            return FetchResult(rejections=[Rejection(c, "price is null") for c in coin_ids])

    report = poll_once(AllRejected())

    assert "no usable price" in report.error
    assert FeedState.current().consecutive_failures == 1


def test_rejected_coins_are_reported_and_good_ones_stored():
    class OneRejected:
        price_source = "coingecko"

        def fetch(self, coin_ids):
            return FetchResult(
                quotes=[quote("bitcoin", "27000")],
                rejections=[Rejection("cardano", "price is negative")],
            )

    report = poll_once(OneRejected())

    assert report.summary() == "10 requested, 1 new ticks, 1 changed, 1 rejected"
    assert list(Coin.objects.values_list("coingecko_id", flat=True)) == ["bitcoin"]


def test_tracked_coins_are_the_setting_then_coins_tracked_in_the_database(settings):
    settings.TRACKED_COINS = ["ethereum", "bitcoin"]
    Coin.objects.create(coingecko_id="dogecoin", symbol="doge", name="Dogecoin", is_tracked=True)
    Coin.objects.create(coingecko_id="shiba", symbol="shib", name="Shiba", is_tracked=False)

    assert tracked_coin_ids() == ["ethereum", "bitcoin", "dogecoin"]


# --- The simulated source ---------------------------------------------------------


def test_simulated_prices_are_marked_simulated_everywhere(settings):
    settings.PRICE_SOURCE = "simulated"
    poll_once()

    coin = Coin.objects.get(coingecko_id="bitcoin")
    assert coin.snapshot()["simulated"] is True
    assert set(PriceTick.objects.values_list("source", flat=True)) == {"simulated"}
    assert FeedState.objects.get().name == "simulated"


def test_a_simulated_walk_starts_from_the_documented_table():
    result = SimulatedSource(now=T0).fetch(["bitcoin"])

    price = result.quotes[0].price
    assert abs(price / Decimal("23147.31") - 1) < Decimal("0.02")
    assert result.quotes[0].last_updated == T0


def test_a_simulated_walk_continues_from_the_last_stored_price():
    Coin.objects.create(
        coingecko_id="bitcoin", symbol="btc", name="Bitcoin", price=Decimal("50000")
    )

    price = SimulatedSource(now=T0).fetch(["bitcoin"]).quotes[0].price

    assert abs(price / Decimal("50000") - 1) < Decimal("0.02")


def test_the_same_seed_and_clock_give_the_same_walk(settings):
    settings.PRICE_SIMULATION_SEED = 42
    first = SimulatedSource(now=T0).fetch(["bitcoin", "ethereum"]).quotes
    settings.PRICE_SIMULATION_SEED = 43
    other = SimulatedSource(now=T0).fetch(["bitcoin", "ethereum"]).quotes
    settings.PRICE_SIMULATION_SEED = 42

    assert SimulatedSource(now=T0).fetch(["bitcoin", "ethereum"]).quotes == first
    assert other != first


@pytest.mark.django_db(transaction=True)
def test_overlapping_polls_never_write_a_tick_twice(settings):
    settings.PRICE_SOURCE = "simulated"
    now = timezone.now()
    reports = []

    def poll():
        try:
            reports.append(poll_once(SimulatedSource(now=now), force=True))
        finally:
            connection.close()

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert PriceTick.objects.count() == 10
    assert sum(r.ingest.stored for r in reports if r.ingest) == 10
