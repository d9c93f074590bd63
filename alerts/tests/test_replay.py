"""Replay the March 2023 crash and rally (real BTC/USD minutes) through the evaluator.

Every 10th minute of 2023-03-09..14 is one batch. Expectations come from the
data itself, read by a plain-Python reading of each rule, so the SQL matcher
is checked against an independent statement of what should fire and when.
"""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from alerts.evaluation import evaluate_batch
from alerts.models import WINDOW_DURATIONS, Alert, AlertEvent
from prices.models import PriceSource, PriceTick
from prices.tests.market_data import candle_rows

pytestmark = pytest.mark.django_db

HOUR = 3600


def load_closes() -> list[tuple[datetime, Decimal]]:
    rows = [
        (datetime.fromisoformat(row["open_time"]), Decimal(row["close"]))
        for row in candle_rows()
        if "2023-03-09" <= row["open_time"][:10] <= "2023-03-14"
    ]
    return rows[::10]


def expected_firings(alert: Alert, closes: list[tuple[datetime, Decimal]]) -> list[datetime]:
    """When the alert should fire, tick by tick, by the rules in plain words."""
    fired, armed, cooldown_until, previous = [], True, None, None
    for index, (time, price) in enumerate(closes):
        target, holds = alert.target, False
        if alert.condition == "above":
            holds = price >= target
        elif alert.condition == "below":
            holds = price <= target
        elif alert.condition in ("crosses_up", "crosses_down", "crosses") and previous is not None:
            up = previous < target <= price
            down = previous > target >= price
            holds = {"crosses_up": up, "crosses_down": down, "crosses": up or down}[alert.condition]
        elif alert.is_movement:
            start = time - WINDOW_DURATIONS[alert.window]
            reference = next(p for t, p in closes[: index + 1] if t >= start)
            change = (price - reference) / reference * 100
            holds = {"pct_up": change, "pct_down": -change, "pct_move": abs(change)}[
                alert.condition
            ] >= alert.percent
        previous = price
        if alert.is_level and not holds:
            armed = True
        expired = alert.expires_at is not None and alert.expires_at <= time
        cooling = cooldown_until is not None and time < cooldown_until
        if holds and armed and not cooling and not expired:
            fired.append(time)
            if alert.frequency == "once":
                break
            armed = not alert.is_level
            cooldown_until = time + timedelta(seconds=alert.cooldown_seconds)
    return fired


ALERTS = [
    {"condition": "below", "target": "20000"},
    {"condition": "crosses_down", "target": "21000"},
    {"condition": "crosses_up", "target": "24000"},
    {"condition": "above", "target": "30000"},
    {"condition": "above", "target": "25000", "frequency": "every_time", "cooldown_seconds": HOUR},
    {
        "condition": "crosses",
        "target": "20000",
        "frequency": "every_time",
        "cooldown_seconds": HOUR,
    },
    {"condition": "below", "target": "20200", "frequency": "every_time", "cooldown_seconds": 600},
    {"condition": "pct_down", "percent": "5", "window": "24h"},
    {"condition": "pct_up", "percent": "10", "window": "24h"},
    {
        "condition": "pct_move",
        "percent": "2",
        "window": "1h",
        "frequency": "every_time",
        "cooldown_seconds": 4 * HOUR,
    },
    {
        "condition": "below",
        "target": "20000",
        "expires_at": datetime.fromisoformat("2023-03-10T01:00:00+00:00"),
    },
]


def test_the_crash_and_the_rally_fire_the_right_alerts_at_the_right_ticks(owner, bitcoin):
    closes = load_closes()
    ticks = PriceTick.objects.bulk_create(
        PriceTick(coin=bitcoin, time=time, price=price, source=PriceSource.BACKFILL)
        for time, price in closes
    )
    alerts = [Alert.objects.create(user=owner, coin=bitcoin, **fields) for fields in ALERTS]

    previous = None
    for tick in ticks:
        batch = [
            {
                "coin_id": bitcoin.pk,
                "tick_id": tick.pk,
                "price": str(tick.price),
                "previous_price": previous,
                "time": tick.time.isoformat(),
            }
        ]
        evaluate_batch(batch, now=tick.time)
        previous = str(tick.price)

    for alert in alerts:
        alert.refresh_from_db()
        fired = list(
            AlertEvent.objects.filter(alert=alert)
            .order_by("triggered_at")
            .values_list("triggered_at", flat=True)
        )
        assert fired == expected_firings(alert, closes), alert.describe()
    # The data has the story we rely on: the crash, the rally, a quiet level.
    below_20k, _, up_24k, above_30k, *_ = alerts
    assert below_20k.events.get().triggered_at.isoformat() == "2023-03-10T01:20:00+00:00"
    assert up_24k.events.get().price > Decimal("24000")
    assert not above_30k.events.exists()
    assert len(expected_firings(alerts[5], closes)) > 2
