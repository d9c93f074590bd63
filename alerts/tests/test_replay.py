"""Replay the March 2023 crash and rally (real BTC/USD minutes) through the evaluator.

Every 10th minute of 2023-03-09..14 is one batch. Expectations come from the
data itself, read by a plain-Python reading of each rule, so the SQL matcher
is checked against an independent statement of what should fire and when.

The market figures come from the same candles: the market cap is the close
times a fixed supply, the 24 h volume the candles' quote volume over the
last 1,440 minutes, the 24 h change the close against the close a day
before, each rounded as PriceTick stores it.
"""

from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from itertools import accumulate

import pytest

from alerts.evaluation import evaluate_batch
from alerts.models import WINDOW_DURATIONS, Alert, AlertEvent
from prices.models import Coin, PriceSource, PriceTick
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


SUPPLY = Decimal(19_310_000)  # bitcoins in March 2023, near enough
MINUTES_A_DAY = 1440
FIGURES = ("market_cap", "volume_24h", "change_24h_pct")


def load_market() -> list[dict]:
    """Every 10th minute of the replay with its market figures, oldest first."""
    rows = list(candle_rows())
    closes = [Decimal(row["close"]) for row in rows]
    volumes = list(
        accumulate(Decimal(row["volume"]) * close for row, close in zip(rows, closes, strict=True))
    )
    market = []
    for index, row in enumerate(rows):
        if not "2023-03-09" <= row["open_time"][:10] <= "2023-03-14":
            continue
        day_before = index - MINUTES_A_DAY
        change = (closes[index] / closes[day_before] - 1) * 100
        market.append(
            {
                "time": datetime.fromisoformat(row["open_time"]),
                "price": closes[index],
                "market_cap": (closes[index] * SUPPLY).quantize(Decimal("0.01")),
                "volume_24h": (volumes[index] - volumes[day_before]).quantize(Decimal("0.01")),
                "change_24h_pct": change.quantize(Decimal("0.0001")),
            }
        )
    return market[::10]


def holds_beyond_the_price(alert: Alert, tick: dict, before: dict | None) -> bool:
    """The market, range and step rules, in plain words (the step's reference is the caller's)."""
    condition, threshold = alert.condition, alert.threshold
    if alert.is_metric:
        figure = tick[METRIC_FIGURE[condition]]
        if condition == "market_cap_crosses":
            if before is None:
                return False
            previous = before["market_cap"]
            return previous < threshold <= figure or previous > threshold >= figure
        return figure >= threshold if condition.endswith("above") else figure <= threshold
    if alert.is_range:
        if before is None:
            return False
        inside_now = alert.range_low <= tick["price"] <= alert.range_high
        inside_before = alert.range_low <= before["price"] <= alert.range_high
        entered = inside_now and not inside_before
        left = inside_before and not inside_now
        return entered if condition == "enters_range" else left
    return False


METRIC_FIGURE = {
    "market_cap_above": "market_cap",
    "market_cap_below": "market_cap",
    "market_cap_crosses": "market_cap",
    "volume_24h_above": "volume_24h",
    "volume_24h_below": "volume_24h",
    "change_24h_above": "change_24h_pct",
    "change_24h_below": "change_24h_pct",
}


def step_holds(alert: Alert, price: Decimal, reference: Decimal) -> bool:
    """A step: the price moved at least the percent from the reference (exactly)."""
    with localcontext(prec=60):
        up = price >= reference * (100 + alert.percent) / 100
        down = price <= reference * (100 - alert.percent) / 100
    return {"pct_step": up or down, "pct_step_up": up, "pct_step_down": down}[alert.condition]


def expected_firings(
    alert: Alert, closes: list[tuple[datetime, Decimal]], market: list[dict] | None = None
) -> list[datetime]:
    """When the alert should fire, tick by tick, by the rules in plain words."""
    fired, armed, cooldown_until, previous = [], True, None, None
    # A step starts from the coin's price when saved: the first tick's here.
    reference = closes[0][1]
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
        elif alert.is_step:
            holds = step_holds(alert, price, reference)
        elif market is not None:
            before = market[index - 1] if index else None
            holds = holds_beyond_the_price(alert, market[index], before)
        previous = price
        if alert.is_level and not holds:
            armed = True
        expired = alert.expires_at is not None and alert.expires_at <= time
        cooling = cooldown_until is not None and time < cooldown_until
        if holds and armed and not cooling and not expired:
            fired.append(time)
            reference = price  # a step's band moves to each firing's price
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


EVERY = {"frequency": "every_time"}

# The market, range and step conditions over the same days. Market cap 400B
# is about 20,700 $ a bitcoin; the 24 h volume runs from 92M to 419M; the
# 24 h change from -9.2 % to +18.9 %.
CONDITION_ALERTS = [
    {"condition": "market_cap_below", "threshold": "390000000000"},
    {
        "condition": "market_cap_above",
        "threshold": "470000000000",
        **EVERY,
        "cooldown_seconds": 4 * HOUR,
    },
    {
        "condition": "market_cap_crosses",
        "threshold": "410000000000",
        **EVERY,
        "cooldown_seconds": HOUR,
    },
    {
        "condition": "volume_24h_above",
        "threshold": "300000000",
        **EVERY,
        "cooldown_seconds": 2 * HOUR,
    },
    {"condition": "volume_24h_below", "threshold": "100000000"},
    {"condition": "change_24h_below", "threshold": "-5", **EVERY, "cooldown_seconds": 6 * HOUR},
    {"condition": "change_24h_above", "threshold": "15"},
    {
        "condition": "enters_range",
        "range_low": "20000",
        "range_high": "20500",
        **EVERY,
        "cooldown_seconds": HOUR,
    },
    {"condition": "exits_range", "range_low": "21500", "range_high": "22500"},
    {
        "condition": "enters_range",
        "range_low": "24000",
        "range_high": "25000",
        "expires_at": datetime.fromisoformat("2023-03-13T00:00:00+00:00"),
    },
    {"condition": "pct_step", "percent": "3", **EVERY, "cooldown_seconds": HOUR},
    {"condition": "pct_step_up", "percent": "5", **EVERY, "cooldown_seconds": 600},
    {"condition": "pct_step_down", "percent": "4"},
]


def test_market_range_and_step_alerts_fire_at_the_ticks_the_rules_say(owner, bitcoin):
    market = load_market()
    closes = [(tick["time"], tick["price"]) for tick in market]
    ticks = PriceTick.objects.bulk_create(
        PriceTick(
            coin=bitcoin,
            time=tick["time"],
            price=tick["price"],
            source=PriceSource.BACKFILL,
            **{name: tick[name] for name in FIGURES},
        )
        for tick in market
    )
    # Steps start from the coin's price when the alerts are saved.
    Coin.objects.filter(pk=bitcoin.pk).update(price=closes[0][1])
    alerts = [
        Alert.objects.create(user=owner, coin=bitcoin, **fields) for fields in CONDITION_ALERTS
    ]

    before = None
    for tick, stored in zip(market, ticks, strict=True):
        item = {
            "coin_id": bitcoin.pk,
            "tick_id": stored.pk,
            "price": str(tick["price"]),
            "previous_price": None if before is None else str(before["price"]),
            "time": tick["time"].isoformat(),
        }
        for name in FIGURES:
            item[name] = str(tick[name])
            item[f"previous_{name}"] = None if before is None else str(before[name])
        evaluate_batch([item], now=tick["time"])
        before = tick

    counts = []
    for alert in alerts:
        alert.refresh_from_db()
        fired = list(
            AlertEvent.objects.filter(alert=alert)
            .order_by("triggered_at")
            .values_list("triggered_at", flat=True)
        )
        assert fired == expected_firings(alert, closes, market), alert.describe()
        counts.append(len(fired))
    # The days have the story each rule needs: every alert but the one that
    # expired before the rally fires, the repeating ones more than once.
    assert counts[9] == 0
    assert all(count > 0 for index, count in enumerate(counts) if index != 9), counts
    assert all(counts[index] > 1 for index in (1, 2, 3, 5, 7, 10, 11)), counts
