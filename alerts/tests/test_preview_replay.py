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

from alerts.evaluation import evaluate_batch
from alerts.models import Alert, AlertEvent
from alerts.preview import preview
from alerts.tests.test_replay import ALERTS as REPLAY_ALERTS
from alerts.tests.test_replay import load_closes
from prices.models import PriceSource, PriceTick
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


def poll_one_by_one(coin, closes) -> list[PriceTick]:
    ticks = PriceTick.objects.bulk_create(
        PriceTick(coin=coin, time=time, price=price, source=PriceSource.COINGECKO)
        for time, price in closes
    )
    previous = None
    for tick in ticks:
        item = {
            "coin_id": coin.pk,
            "tick_id": tick.pk,
            "price": str(tick.price),
            "previous_price": previous,
            "time": tick.time.isoformat(),
        }
        evaluate_batch([item], now=tick.time)
        previous = str(tick.price)
    return ticks


def live_firings(alert: Alert) -> list[tuple[datetime, Decimal]]:
    events = AlertEvent.objects.filter(alert=alert).order_by("triggered_at")
    return [(event.triggered_at, event.price) for event in events]


def assert_the_preview_matches_live(owner, coin, alert_fields, closes) -> list[int]:
    """Poll `closes` live with these alerts, preview each; the firing counts."""
    alerts = [Alert.objects.create(user=owner, coin=coin, **fields) for fields in alert_fields]
    ticks = poll_one_by_one(coin, closes)
    for alert in alerts:
        alert.refresh_from_db()  # as live left it: the preview starts it afresh
        result = preview(alert, to=ticks[-1].time)
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


def test_the_preview_replays_the_history_it_has_when_it_is_short(owner, bitcoin):
    closes = load_closes()
    poll_one_by_one(bitcoin, closes[:18])  # three hours
    alert = Alert(user=owner, coin=bitcoin, condition="below", target=Decimal("1000000"))
    result = preview(alert, to=closes[17][0])
    assert result.from_at == closes[0][0]
    assert result.short
    assert result.covered == timedelta(hours=2, minutes=50)
    assert [firing.time for firing in result.firings] == [closes[0][0]]
