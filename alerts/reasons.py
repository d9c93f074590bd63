"""Why an alert fired, in words: the one place that words an AlertEvent's reason.

The firing statement (alerts.claiming.FIRE_SQL) writes every reason itself,
in the same statement that claims the alerts, with REASON_SQL below. Its
parts that depend only on the coin (its price, previous price, direction and
a movement's figures) are worded here in Python once per coin and sent in
the batch and moves rows (alerts.matching); the alert's own target and
percent are printed in SQL by trim_scale, which drops trailing zeros as
decimal_text does. For example:

    Price 30010 is at or above 30000.
    Price crossed up through 30000 (29950 → 30010).
    Price rose 5.25% within 1 hour (20000 → 21050), at least the 5% asked for.
"""

from __future__ import annotations

from decimal import Decimal

from alerts.models import MOVEMENT_CONDITIONS, Condition, Window
from prices.models import decimal_text

# The reason of claimed alert `c` (condition, target, percent) firing on its
# coin's batch row `b` (price_text, previous_text, direction) and, for a
# movement alert, its window's moves row `m` (reason_start). `%%` is a literal
# percent sign in a statement run with parameters.
_MOVEMENTS = ", ".join(f"'{condition}'" for condition in MOVEMENT_CONDITIONS)
REASON_SQL = f"""CASE
    WHEN c.condition IN ({_MOVEMENTS})
        THEN m.reason_start || CAST(trim_scale(c.percent) AS TEXT) || '%% asked for.'
    WHEN c.condition IN ('{Condition.ABOVE}', '{Condition.BELOW}')
        THEN 'Price ' || b.price_text || ' is at or '
            || CASE WHEN c.condition = '{Condition.ABOVE}' THEN 'above' ELSE 'below' END
            || ' ' || CAST(trim_scale(c.target) AS TEXT) || '.'
    ELSE 'Price crossed ' || b.direction || ' through '
        || CAST(trim_scale(c.target) AS TEXT)
        || ' (' || b.previous_text || ' → ' || b.price_text || ').'
END"""


def price_texts(price: Decimal, previous: Decimal | None) -> tuple[str, str | None, str | None]:
    """A coin's parts of level and crossing reasons: price, previous price, direction."""
    if previous is None:
        return decimal_text(price), None, None
    direction = "up" if price > previous else "down"
    return decimal_text(price), decimal_text(previous), direction


# Window(value).label builds an enum member per call; 750 calls a batch.
_WINDOW_LABELS = dict(Window.choices)


def movement_reason_start(
    window: str, reference: Decimal, price: Decimal, change_pct: Decimal
) -> str:
    """A movement alert's reason up to its own percent ("… at least the ")."""
    verb = "rose" if change_pct > 0 else "fell"
    return (
        f"Price {verb} {abs(change_pct):.2f}% within {_WINDOW_LABELS[window]} "
        f"({decimal_text(reference)} → {decimal_text(price)}), at least the "
    )
