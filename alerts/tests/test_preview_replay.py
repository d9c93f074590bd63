"""The preview's firings are the events live evaluation writes for the same ticks.

Real BTC/USD minutes (March 2023, the crash and the rally), every 10th
minute of 2023-03-09..14 as one tick: each tick is polled through
alerts.evaluation.evaluate_batch as the pipeline would, and the same alert,
unsaved, is previewed over the stored ticks. Each condition, once and
every_time with cooldowns, a level's re-arm and an expiry inside the
history: the two must agree on every firing's time and price.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.evaluation import evaluate_batch
from alerts.models import Alert, AlertEvent
from alerts.preview import preview
from alerts.tests.test_replay import ALERTS as REPLAY_ALERTS
from alerts.tests.test_replay import load_closes
from prices.models import ExchangeRate, PriceSource, PriceTick
from prices.tests.market_data import candle_rows

pytestmark = pytest.mark.django_db

HOUR = 3600
EVERY = {"frequency": "every_time"}

ALERTS = [
    *REPLAY_ALERTS,
    {"condition": "above", "target": "22000", **EVERY, "cooldown_seconds": 60},
    {"condition": "below", "target": "21500", **EVERY, "cooldown_seconds": 6 * HOUR},
    {"condition": "crosses_up", "target": "22000", **EVERY, "cooldown_seconds": 600},
    {"condition": "crosses_down", "target": "22300", **EVERY, "cooldown_seconds": 2 * HOUR},
    {"condition": "crosses", "target": "24500", **EVERY, "cooldown_seconds": 60},
    {"condition": "pct_up", "percent": "1", "window": "1h", **EVERY, "cooldown_seconds": HOUR},
    {"condition": "pct_move", "percent": "3", "window": "24h", **EVERY, "cooldown_seconds": 1800},
    {"condition": "pct_up", "percent": "2", "window": "24h", **EVERY, "cooldown_seconds": 60},
    {
        "condition": "above",
        "target": "21000",
        **EVERY,
        "cooldown_seconds": 600,
        "expires_at": datetime.fromisoformat("2023-03-13T12:00:00+00:00"),
    },
    {
        "condition": "pct_move",
        "percent": "1",
        "window": "1h",
        **EVERY,
        "cooldown_seconds": HOUR,
        "expires_at": datetime.fromisoformat("2023-03-12T00:00:00+00:00"),
    },
]


# Minute ticks of the crash's first hours (2023-03-10 00:00-06:00), for the
# 5-minute windows and cooldowns of a minute or two.
MINUTE_ALERTS = [
    {"condition": "pct_down", "percent": "0.5", "window": "5m", **EVERY, "cooldown_seconds": 60},
    {"condition": "pct_move", "percent": "0.4", "window": "5m", **EVERY, "cooldown_seconds": 120},
    {"condition": "pct_up", "percent": "0.3", "window": "5m"},
    {"condition": "crosses", "target": "20000", **EVERY, "cooldown_seconds": 60},
    {"condition": "below", "target": "19950", **EVERY, "cooldown_seconds": 60},
    {"condition": "above", "target": "19900", **EVERY, "cooldown_seconds": 300},
]


def minute_closes() -> list[tuple[datetime, Decimal]]:
    return [
        (datetime.fromisoformat(row["open_time"]), Decimal(row["close"]))
        for row in candle_rows()
        if "2023-03-10 00:00" <= row["open_time"][:16] < "2023-03-10 06:00"
    ]


# The market figures CoinGecko sends beside the price, made up from it: a
# supply of 19.3M coins, a volume that swings with the hour, the change
# over the 24 hours before (144 ticks of 10 minutes).
FIGURES = ("market_cap", "volume_24h", "change_24h_pct")


def figures(closes, index: int) -> dict:
    time, price = closes[index]
    day_before = closes[index - 144][1] if index >= 144 else None
    change = (price / day_before - 1) * 100 if day_before else None
    return {
        "market_cap": (price * 19_300_000).quantize(Decimal("0.01")),
        "volume_24h": Decimal(20_000_000_000 + time.hour * 500_000_000),
        "change_24h_pct": change.quantize(Decimal("0.0001")) if change is not None else None,
    }


def poll_one_by_one(coin, closes, with_figures: bool = False) -> list[PriceTick]:
    """Store each close as a tick and evaluate it as the pipeline's batch of one."""
    made = [figures(closes, i) if with_figures else {} for i in range(len(closes))]
    ticks = PriceTick.objects.bulk_create(
        PriceTick(coin=coin, time=time, price=price, source=PriceSource.COINGECKO, **made[i])
        for i, (time, price) in enumerate(closes)
    )
    before = None
    for index, tick in enumerate(ticks):
        item = {
            "coin_id": coin.pk,
            "tick_id": tick.pk,
            "price": str(tick.price),
            "previous_price": str(ticks[index - 1].price) if index else None,
            "time": tick.time.isoformat(),
        }
        for name in FIGURES if with_figures else ():
            value = made[index][name]
            item[name] = None if value is None else str(value)
            previous = before[name] if before else None
            item[f"previous_{name}"] = None if previous is None else str(previous)
        evaluate_batch([item], now=tick.time)
        before = made[index]
    return ticks


def live_firings(alert: Alert) -> list[tuple[datetime, Decimal]]:
    events = AlertEvent.objects.filter(alert=alert).order_by("triggered_at")
    return [(event.triggered_at, event.price) for event in events]


def assert_the_preview_matches_live(
    owner, coin, alert_fields, closes, with_figures: bool = False
) -> list[int]:
    """Poll `closes` live with these alerts, preview each; the firing counts."""
    # A step alert starts from the coin's price when saved: the first close,
    # where the preview starts it too.
    coin.price = closes[0][1]
    coin.save()
    alerts = [Alert.objects.create(user=owner, coin=coin, **fields) for fields in alert_fields]
    ticks = poll_one_by_one(coin, closes, with_figures)
    for alert in alerts:
        alert.refresh_from_db()  # as live left it: the preview starts it afresh
        result = preview(alert, to=ticks[-1].time, priced=None)
        previewed = [(firing.time, firing.price) for firing in result.firings]
        assert previewed == live_firings(alert), alert.describe()
    return [len(live_firings(alert)) for alert in alerts]


def test_the_preview_fires_exactly_when_live_evaluation_fired(owner, bitcoin):
    counts = assert_the_preview_matches_live(owner, bitcoin, ALERTS, load_closes())
    # The set covers what it claims: repeats spaced by cooldowns, re-armed
    # levels, and expiries that cut the firings short (the expiring
    # below-20000 alert expired before the crash its twin fired on).
    assert min(counts[:3]) == 1 and counts[3] == 0
    assert counts[10] == 0
    assert max(counts) > 100
    assert all(count > 0 for count in counts[11:])


def test_the_preview_matches_live_on_minute_ticks_and_short_windows(owner, bitcoin):
    counts = assert_the_preview_matches_live(owner, bitcoin, MINUTE_ALERTS, minute_closes())
    assert all(counts), counts


# The conditions beyond the price: market figures, ranges, steps.
MARKET_ALERTS = [
    {"condition": "market_cap_above", "threshold": "450000000000", **EVERY,
     "cooldown_seconds": HOUR},
    {"condition": "market_cap_below", "threshold": "400000000000"},
    {"condition": "market_cap_crosses", "threshold": "420000000000", **EVERY,
     "cooldown_seconds": 600},
    {"condition": "volume_24h_above", "threshold": "30000000000", **EVERY,
     "cooldown_seconds": 4 * HOUR},
    {"condition": "volume_24h_below", "threshold": "21000000000"},
    {"condition": "change_24h_above", "threshold": "5", **EVERY, "cooldown_seconds": HOUR},
    {"condition": "change_24h_below", "threshold": "-3", **EVERY, "cooldown_seconds": 60},
    {"condition": "enters_range", "range_low": "21500", "range_high": "22500", **EVERY,
     "cooldown_seconds": 600},
    {"condition": "exits_range", "range_low": "20000", "range_high": "22000", **EVERY,
     "cooldown_seconds": HOUR},
    {"condition": "enters_range", "range_low": "24000", "range_high": "25000"},
    {"condition": "pct_step", "percent": "2", **EVERY, "cooldown_seconds": 600},
    {"condition": "pct_step_up", "percent": "3", **EVERY, "cooldown_seconds": 4 * HOUR},
    {"condition": "pct_step_down", "percent": "1", **EVERY, "cooldown_seconds": 60},
    {"condition": "pct_step", "percent": "5"},
    {
        "condition": "pct_step",
        "percent": "1",
        **EVERY,
        "cooldown_seconds": 600,
        "expires_at": datetime.fromisoformat("2023-03-12T00:00:00+00:00"),
    },
]  # fmt: skip


def test_the_preview_matches_live_for_market_figures_ranges_and_steps(owner, bitcoin):
    closes = load_closes()
    counts = assert_the_preview_matches_live(owner, bitcoin, MARKET_ALERTS, closes, True)
    assert all(counts), counts
    steps = counts[10:13]
    assert max(steps) > 10, counts  # the band moved many times


# Alerts set in euros, at a rate of 0.9213 EUR per USD.
EURO_ALERTS = [
    {"condition": "below", "target": "18400", **EVERY, "cooldown_seconds": 6 * HOUR},
    {"condition": "crosses", "target": "20300", **EVERY, "cooldown_seconds": 600},
    {"condition": "pct_move", "percent": "3", "window": "24h", **EVERY, "cooldown_seconds": 1800},
    {"condition": "market_cap_above", "threshold": "415000000000", **EVERY,
     "cooldown_seconds": HOUR},
    {"condition": "exits_range", "range_low": "18500", "range_high": "20300", **EVERY,
     "cooldown_seconds": HOUR},
    {"condition": "pct_step", "percent": "2", **EVERY, "cooldown_seconds": 600},
]  # fmt: skip


def test_the_preview_matches_live_for_alerts_set_in_another_currency(owner, bitcoin):
    # Fetched now: fresh for the preview, and for live evaluation at the
    # replayed ticks' times, which come before it.
    ExchangeRate.objects.create(
        currency="eur", base="usd", rate=Decimal("0.9213"), fetched_at=timezone.now(),
        source=PriceSource.COINGECKO,
    )  # fmt: skip
    alerts = [{**fields, "currency": "eur"} for fields in EURO_ALERTS]

    counts = assert_the_preview_matches_live(owner, bitcoin, alerts, load_closes(), True)

    assert all(counts), counts
    assert set(AlertEvent.objects.values_list("currency", "exchange_rate")) == {
        ("eur", Decimal("0.9213"))
    }


def test_the_preview_replays_the_history_it_has_when_it_is_short(owner, bitcoin):
    closes = load_closes()
    poll_one_by_one(bitcoin, closes[:18])  # three hours
    alert = Alert(user=owner, coin=bitcoin, condition="below", target=Decimal("1000000"))
    result = preview(alert, to=closes[17][0])
    assert result.from_at == closes[0][0]
    assert result.short
    assert result.covered == timedelta(hours=2, minutes=50)
    assert [firing.time for firing in result.firings] == [closes[0][0]]
