from datetime import timedelta
from decimal import Decimal

import pytest

from prices.history import RANGES, bucket_seconds, price_history, purge_expired_prices
from prices.models import Coin, PriceRollup, PriceSource, PriceTick
from prices.tests.pipeline import T0, candle_quotes, quote, read_candles, store_in_polls

pytestmark = pytest.mark.django_db


@pytest.fixture
def day_of_candles() -> list[dict]:
    candles = read_candles(1440)
    store_in_polls(candle_quotes(candles), PriceSource.COINGECKO, size=2000)
    return candles


@pytest.fixture
def ten_second_ticks() -> Coin:
    """Two hours of 10-second polls."""
    store_in_polls(
        [
            quote("bitcoin", str(20000 + i), at=T0 - timedelta(hours=2), seconds=10 * i)
            for i in range(720)
        ],
        PriceSource.COINGECKO,
    )
    return Coin.objects.get()


def test_the_last_hour_reads_raw_ticks(ten_second_ticks):
    points = price_history(ten_second_ticks, "1h", now=T0)

    assert len(points) == 360  # every 10 s tick from T0-1h on
    assert points[0] == (T0 - timedelta(hours=1), Decimal(20360))
    assert points[-1][1] == Decimal(20719)


def test_every_range_is_ascending_and_at_most_a_thousand_points(day_of_candles):
    coin = Coin.objects.get()
    now = day_of_candles[-1]["time"] + timedelta(minutes=1)

    for range_key in RANGES:
        points = price_history(coin, range_key, now=now)
        times = [t for t, _ in points]
        assert 0 < len(points) <= 1000, range_key
        assert times == sorted(set(times)), range_key


def test_a_day_is_the_close_of_every_second_real_minute(day_of_candles):
    coin = Coin.objects.get()
    now = day_of_candles[-1]["time"] + timedelta(minutes=1)

    points = price_history(coin, "24h", now=now)

    assert len(points) == 720
    assert [p for _, p in points] == [c["close"] for c in day_of_candles[1::2]]
    assert points[0][0] == day_of_candles[1]["time"] + timedelta(seconds=45)


def test_all_starts_at_the_first_hour_and_ends_at_the_latest_close(day_of_candles):
    coin = Coin.objects.get()
    now = day_of_candles[-1]["time"] + timedelta(minutes=1)

    points = price_history(coin, "all", now=now)

    assert points[-1][1] == day_of_candles[-1]["close"]
    assert points[0][0] < day_of_candles[60]["time"]


def test_a_coin_without_prices_has_an_empty_history():
    coin = Coin.objects.create(coingecko_id="nothing", symbol="no", name="Nothing")

    assert all(price_history(coin, r) == [] for r in RANGES)


def test_it_rejects_an_unknown_range():
    coin = Coin.objects.create(coingecko_id="bitcoin", symbol="btc", name="Bitcoin")

    with pytest.raises(ValueError, match="Unknown range"):
        price_history(coin, "2w")


def test_buckets_are_round_and_never_more_than_a_thousand():
    assert bucket_seconds(timedelta(days=1)) == 120
    assert bucket_seconds(timedelta(days=365)) == 43200
    assert timedelta(days=3650) / timedelta(seconds=bucket_seconds(timedelta(days=3650))) <= 1000


def test_retention_deletes_old_ticks_and_minutes_but_keeps_hours(settings, day_of_candles):
    settings.PRICE_TICK_RETENTION_DAYS = 1
    settings.PRICE_MINUTE_ROLLUP_RETENTION_DAYS = 1
    hours_before = PriceRollup.objects.filter(resolution="1h").count()
    now = day_of_candles[-1]["time"] + timedelta(hours=12, minutes=1)  # half the day expired

    report = purge_expired_prices(now=now, batch_size=500)

    assert report.ticks == 720 * 4
    assert report.minute_rollups == 720
    assert PriceTick.objects.count() == 720 * 4
    assert PriceRollup.objects.filter(resolution="1h").count() == hours_before == 24
    assert PriceTick.objects.order_by("time").first().time >= now - timedelta(days=1)
