from decimal import Decimal

import pytest

from prices.ingest import store_quotes
from prices.models import Coin, PriceRollup, PriceSource, PriceTick
from prices.tests.pipeline import T0, alert_batches, quote  # noqa: F401

pytestmark = pytest.mark.django_db


def test_it_creates_unknown_coins_with_their_snapshot():
    store_quotes([quote("bitcoin", "27000.5")], PriceSource.COINGECKO)

    coin = Coin.objects.get(coingecko_id="bitcoin")
    assert coin.price == Decimal("27000.5")
    assert coin.price_updated_at == T0
    assert coin.price_source == PriceSource.COINGECKO
    assert coin.is_tracked


def test_it_writes_one_tick_per_quote_with_every_field():
    store_quotes([quote("bitcoin", "27000.5"), quote("ethereum", "1800.25")], PriceSource.COINGECKO)

    tick = PriceTick.objects.get(coin__coingecko_id="ethereum")
    assert (tick.time, tick.price, tick.source) == (T0, Decimal("1800.25"), "coingecko")
    assert tick.market_cap == Decimal("500000000000.00")
    assert tick.volume_24h == Decimal("12000000000.00")
    assert tick.change_24h_pct == Decimal("1.25")


def test_reingesting_the_same_quotes_writes_nothing():
    quotes = [quote("bitcoin", "27000.5"), quote("ethereum", "1800.25")]
    store_quotes(quotes, PriceSource.COINGECKO)

    again = store_quotes(quotes, PriceSource.COINGECKO)

    assert again.stored == 0
    assert again.changed == []
    assert PriceTick.objects.count() == 2


def test_it_reports_only_coins_whose_price_moved(alert_batches):  # noqa: F811
    store_quotes([quote("bitcoin", "27000"), quote("ethereum", "1800")], PriceSource.COINGECKO)

    result = store_quotes(
        [quote("bitcoin", "27100", seconds=10), quote("ethereum", "1800")], PriceSource.COINGECKO
    )

    assert [s["id"] for s in result.changed] == ["bitcoin"]
    assert result.changed[0]["price"] == "27100"


def test_it_hands_alerts_the_previous_snapshot_price(
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    store_quotes([quote("bitcoin", "27000")], PriceSource.COINGECKO)
    with django_capture_on_commit_callbacks(execute=True):
        store_quotes(
            [
                quote(
                    "bitcoin",
                    "27100.10",
                    seconds=10,
                    market_cap=Decimal("510000000000.50"),
                    volume_24h=Decimal("13000000000.00"),
                    change_24h_pct=Decimal("-2.5000"),
                )
            ],
            PriceSource.COINGECKO,
        )

    coin = Coin.objects.get(coingecko_id="bitcoin")
    tick = PriceTick.objects.get(coin=coin, price=Decimal("27100.10"))
    assert alert_batches == [
        [
            {
                "coin_id": coin.pk,
                "tick_id": tick.pk,
                "price": "27100.1",
                "previous_price": "27000",
                "time": tick.time.isoformat(),
                # Market cap, volume and 24 h change alerts read these.
                "market_cap": "510000000000.5",
                "previous_market_cap": "500000000000",
                "volume_24h": "13000000000",
                "previous_volume_24h": "12000000000",
                "change_24h_pct": "-2.5",
                "previous_change_24h_pct": "1.25",
            }
        ]
    ]


def test_a_first_price_has_no_previous_price(
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    with django_capture_on_commit_callbacks(execute=True):
        store_quotes([quote("bitcoin", "27000")], PriceSource.COINGECKO)

    [item] = alert_batches[0]
    assert item["previous_price"] is None
    assert item["market_cap"] == "500000000000"
    assert item["previous_market_cap"] is None
    assert item["previous_volume_24h"] is None
    assert item["previous_change_24h_pct"] is None


def test_nothing_is_announced_before_commit(
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        store_quotes([quote("bitcoin", "27000")], PriceSource.COINGECKO)

    assert alert_batches == []
    assert len(callbacks) == 1


def test_an_older_quote_is_stored_but_does_not_move_the_snapshot():
    store_quotes([quote("bitcoin", "27000", seconds=60)], PriceSource.COINGECKO)

    result = store_quotes([quote("bitcoin", "26000")], PriceSource.COINGECKO)

    assert result.stored == 1
    assert result.changed == []
    assert Coin.objects.get().price == Decimal("27000")


def test_backfill_never_triggers_alert_evaluation(
    django_capture_on_commit_callbacks,
    alert_batches,  # noqa: F811
):
    with django_capture_on_commit_callbacks(execute=True):
        store_quotes(
            [quote("bitcoin", "27000"), quote("bitcoin", "27050", seconds=3600)],
            PriceSource.BACKFILL,
        )

    assert alert_batches == []
    assert Coin.objects.get().price == Decimal("27050")
    assert PriceTick.objects.filter(source="backfill").count() == 2


def test_it_rolls_new_ticks_up_into_minute_and_hour_buckets():
    store_quotes(
        [quote("bitcoin", "100"), quote("bitcoin", "90", seconds=20)], PriceSource.COINGECKO
    )

    minute = PriceRollup.objects.get(resolution="1m")
    assert (minute.open, minute.high, minute.low, minute.close) == (100, 100, 90, 90)
    assert PriceRollup.objects.filter(resolution="1h").count() == 1


def test_an_empty_batch_does_nothing():
    result = store_quotes([], PriceSource.COINGECKO)

    assert result.stored == 0
    assert not Coin.objects.exists()
