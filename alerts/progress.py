"""How far each alert is from firing, as the alert list shows it.

A price alert's distance is from the coin's current price to the target:
positive when the price has to rise to reach it, negative when it has to
fall. A movement alert's is the move the price has made so far within the
alert's window, measured as the evaluator measures it (against the window's
first stored tick; alerts.matching.window_movements), or nothing when the
coin has no price or no tick inside the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from alerts.matching import PriceChange, window_movements
from alerts.models import Alert
from prices.models import Coin
from prices.templatetags.price_format import money, percent_change

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Distance:
    """A signed distance: an amount in the quote currency and a percentage."""

    amount: Decimal
    percent: Decimal

    @property
    def amount_text(self) -> str:
        """E.g. +$5,000.00 or −$120.50, formatted as live.js formats it."""
        sign = "-" if self.amount < 0 else "+"
        return f"{sign}{money(abs(self.amount))}"

    @property
    def percent_text(self) -> str:
        return percent_change(self.percent)


def to_target(alert: Alert) -> Distance | None:
    """From the coin's current price to a price alert's target."""
    price = alert.coin.price
    if alert.is_movement or alert.target is None or price is None or price <= 0:
        return None
    amount = alert.target - price
    return Distance(amount, amount / price * HUNDRED)


def distances(alerts: Iterable[Alert]) -> dict[int, Distance]:
    """Each alert's distance by id; alerts without one are left out."""
    alerts = list(alerts)
    found = {alert.pk: to_target(alert) for alert in alerts if not alert.is_movement}
    moving = [alert for alert in alerts if alert.is_movement]
    coins = {alert.coin_id: alert.coin for alert in moving}
    moves = _window_moves(coins.values())
    for alert in moving:
        found[alert.pk] = moves.get((alert.coin_id, alert.window))
    return {pk: distance for pk, distance in found.items() if distance is not None}


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
        (move.coin_id, move.window): Distance(move.price - move.reference, move.change_pct)
        for move in window_movements(changes)
    }
