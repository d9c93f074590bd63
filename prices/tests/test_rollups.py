import random
from decimal import Decimal

import pytest

from prices.ingest import store_quotes
from prices.models import PriceRollup, PriceSource
from prices.tests.pipeline import T0, candle_quotes, quote, read_candles, store_in_polls

pytestmark = pytest.mark.django_db


def _bars(coin: str, resolution: str) -> list[tuple]:
    return list(
        PriceRollup.objects.filter(coin__coingecko_id=coin, resolution=resolution)
        .order_by("bucket")
        .values_list("bucket", "open", "high", "low", "close")
    )


def test_minute_rollups_of_replayed_ticks_match_the_real_candles():
    candles = read_candles(180)
    store_in_polls(candle_quotes(candles), PriceSource.COINGECKO, size=37)

    assert _bars("bitcoin", "1m") == [
        (c["time"], c["open"], c["high"], c["low"], c["close"]) for c in candles
    ]


def test_hour_rollups_span_the_hour_of_real_candles():
    candles = read_candles(120)
    store_in_polls(candle_quotes(candles), PriceSource.COINGECKO)

    first_hour = candles[:60]
    assert _bars("bitcoin", "1h")[0] == (
        first_hour[0]["time"],
        first_hour[0]["open"],
        max(c["high"] for c in first_hour),
        min(c["low"] for c in first_hour),
        first_hour[-1]["close"],
    )


def test_rollups_do_not_depend_on_the_order_ticks_arrive_in():
    quotes = candle_quotes(read_candles(90))
    shuffled = [quote("shuffled", str(q.price), at=q.last_updated) for q in quotes]
    random.Random(7).shuffle(shuffled)

    store_in_polls(quotes, PriceSource.COINGECKO, size=50)
    store_in_polls(shuffled, PriceSource.COINGECKO, size=23)

    assert _bars("bitcoin", "1m") == _bars("shuffled", "1m")
    assert _bars("bitcoin", "1h") == _bars("shuffled", "1h")


def test_reingesting_ticks_leaves_rollups_unchanged():
    quotes = candle_quotes(read_candles(30))
    store_in_polls(quotes, PriceSource.COINGECKO)
    before = _bars("bitcoin", "1m")

    store_in_polls(quotes[::-1], PriceSource.COINGECKO, size=7)

    assert _bars("bitcoin", "1m") == before


def test_a_simulated_tick_marks_its_rollups_simulated():
    store_quotes([quote("bitcoin", "100")], PriceSource.SIMULATED)

    assert set(PriceRollup.objects.values_list("simulated", flat=True)) == {True}


def test_a_late_earlier_tick_becomes_the_open():
    store_quotes([quote("bitcoin", "100", seconds=30)], PriceSource.COINGECKO)
    store_quotes([quote("bitcoin", "90", seconds=5)], PriceSource.COINGECKO)

    bar = PriceRollup.objects.get(resolution="1m")
    assert (bar.open, bar.close, bar.open_time, bar.low) == (
        Decimal("90"),
        Decimal("100"),
        T0.replace(second=5),
        Decimal("90"),
    )
