"""How far each alert is from firing, as the alert list shows it.

A price alert's distance is from the coin's current price to the target:
positive when the price has to rise to reach it, negative when it has to
fall. A movement alert's is the move the price has made so far within the
alert's window, measured as the evaluator measures it (against the window's
first stored tick; alerts.matching.window_movements), or nothing when the
coin has no price or no tick inside the window. The others measure the same
way from the coin's latest snapshot: a market figure to its threshold (a
24 h change in percentage points), the price to the nearer bound of a range
and to the nearer trigger of a step's band.

An alert set in another currency than the base is measured in it: the coin's
price and figures (stored in the base) are converted with that currency's
current rate, read once for all the alerts; while the rate is stale or was
never fetched the alert is not evaluated, and it has no distance either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from alerts.matching import PriceChange, window_movements
from alerts.models import METRIC_OF, Alert, Window
from prices.currencies import Rate, current_rates
from prices.models import Coin
from prices.templatetags.price_format import compact_money, money, percent_change

HUNDRED = Decimal(100)
WINDOW_LABELS = dict(Window.choices)


@dataclass(frozen=True)
class Distance:
    """A signed distance: an amount and, unless it is in points, a percentage of the value."""

    amount: Decimal
    percent: Decimal | None
    label: str = "To target"
    # How the amount reads: "price" ($5,000.00), "amount" (a market cap or
    # volume: $1.2B) or "points" (a 24 h change: 3.50 points).
    unit: str = "price"
    # The currency the amount is in: the alert's (None: the base).
    currency: str | None = None

    @property
    def amount_text(self) -> str:
        """E.g. +$5,000.00 or −€120.50, formatted as live.js formats it."""
        sign = "-" if self.amount < 0 else "+"
        if self.unit == "points":
            return f"{sign}{abs(self.amount):.2f} points"
        shown = compact_money if self.unit == "amount" else money
        return f"{sign}{shown(abs(self.amount), self.currency)}"

    @property
    def percent_text(self) -> str:
        return "" if self.percent is None else percent_change(self.percent)


def _towards(
    bound: Decimal, value: Decimal, label: str, unit: str = "price", currency: str | None = None
) -> Distance:
    amount = bound - value
    return Distance(amount, amount / value * HUNDRED, label, unit, currency)


def _nearest(bounds: Iterable[Decimal | None], price: Decimal) -> Decimal | None:
    known = [bound for bound in bounds if bound is not None]
    return min(known, key=lambda bound: abs(bound - price)) if known else None


def to_target(alert: Alert, rate: Rate | None = None) -> Distance | None:
    """From the coin's snapshot to what the alert waits for (not for movements).

    `rate` converts the coin's figures into the alert's currency: needed,
    and usable, for an alert that is not in the base (else None).
    """
    coin = alert.coin
    currency = None if alert.in_base_currency else alert.currency
    if currency is not None and (rate is None or rate.stale or rate.currency != currency):
        return None
    rate = None if currency is None else rate
    price = coin.price if rate is None else rate.convert(coin.price)
    if alert.is_movement or price is None or price <= 0:
        return None
    if alert.is_metric:
        value = getattr(coin, METRIC_OF[alert.condition])
        if rate is not None and METRIC_OF[alert.condition] != "change_24h_pct":
            value = rate.convert_amount(value)
        return _to_threshold(alert, value, currency)
    if alert.is_range:
        bound = _nearest((alert.range_low, alert.range_high), price)
        inside = bound is not None and alert.range_low <= price <= alert.range_high
        label = "To the range's edge" if inside else "To the range"
    elif alert.is_step:
        bound, label = _nearest((alert.step_low, alert.step_high), price), "To next step"
    else:
        bound, label = alert.target, "To target"
    return None if bound is None else _towards(bound, price, label, currency=currency)


def _to_threshold(alert: Alert, value: Decimal | None, currency: str | None) -> Distance | None:
    if value is None or alert.threshold is None:
        return None
    if METRIC_OF[alert.condition] == "change_24h_pct":
        return Distance(alert.threshold - value, None, "To threshold", "points")
    if value <= 0:
        return None
    return _towards(alert.threshold, value, "To threshold", "amount", currency)


def rates_for(alerts: Iterable[Alert]) -> dict[str, Rate]:
    """The current rates (prices.currencies.current_rates) the alerts' currencies
    need, in one query; none read when all are in the base."""
    return current_rates() if any(not alert.in_base_currency for alert in alerts) else {}


def distances(alerts: Iterable[Alert], rates: dict[str, Rate] | None = None) -> dict[int, Distance]:
    """Each alert's distance by id; alerts without one are left out.

    `rates`: rates_for(alerts), read here when not given.
    """
    alerts = list(alerts)
    rates = rates_for(alerts) if rates is None else rates
    found = {
        alert.pk: to_target(alert, rates.get(alert.currency))
        for alert in alerts
        if not alert.is_movement
    }
    moving = [alert for alert in alerts if alert.is_movement]
    coins = {alert.coin_id: alert.coin for alert in moving}
    moves = _window_moves(coins.values())
    for alert in moving:
        found[alert.pk] = _in_own_currency(
            moves.get((alert.coin_id, alert.window)), alert, rates.get(alert.currency)
        )
    return {pk: distance for pk, distance in found.items() if distance is not None}


def _in_own_currency(move: Distance | None, alert: Alert, rate: Rate | None) -> Distance | None:
    """A move measured in the base, its amount in the alert's currency (same percent)."""
    if move is None or alert.in_base_currency:
        return move
    if rate is None or rate.stale:
        return None
    return Distance(rate.convert(move.amount), move.percent, move.label, move.unit, rate.currency)


def _window_moves(coins: Iterable[Coin]) -> dict[tuple[int, str], Distance]:
    """Each coin's move within each window, ending at its current price's time."""
    changes = [
        PriceChange(coin.pk, None, coin.price, None, coin.price_updated_at)
        for coin in coins
        if coin.price is not None and coin.price_updated_at is not None
    ]
    if not changes:
        return {}
    return {
        (move.coin_id, move.window): Distance(
            move.price - move.reference,
            move.change_pct,
            f"Moved in {WINDOW_LABELS[move.window]}",
        )
        for move in window_movements(changes)
    }
