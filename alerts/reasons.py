"""Why an alert fired, in words: the one place that words an AlertEvent's reason.

The firing statement (alerts.claiming.FIRE_SQL) writes every reason itself,
in the same statement that claims the alerts, with REASON_SQL below. Its
parts that depend only on the coin (its price, previous price, direction,
market figures and a movement's figures) are worded here in Python once per
coin and sent in the batch and moves rows (alerts.matching); the alert's own
target, percent, threshold and range are printed in SQL by trim_scale, which
drops trailing zeros as decimal_text does, and market caps and volumes in
short units by compact_sql, as compact_amount does. For example:

    Price 30010 is at or above 30000.
    Price crossed up through 30000 (29950 → 30010).
    Price rose 5.25% within 1 hour (20000 → 21050), at least the 5% asked for.
    Market cap 1.2T is at or above 1T.
    Market cap crossed up through 1T (990B → 1.01T).
    24 h change -6.1% is at or below -5%.
    Price 30500 entered the range 30000–31000 (29900 → 30500).
    Price moved up 5.00% from 30000 at the last alert (30000 → 31500).

An alert set in another currency than the base reads its prices in that
currency, as format_price prints them, and its own figures with the code:

    Price €27,612.40 is at or above 27500 EUR.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from alerts.models import (
    EDGE_CONDITIONS,
    METRIC_LEVEL_CONDITIONS,
    METRIC_OF,
    MOVEMENT_CONDITIONS,
    PRICE_LEVEL_CONDITIONS,
    STEP_CONDITIONS,
    Condition,
    Window,
)
from prices.currencies import format_price
from prices.models import decimal_text

# Short units for market caps and volumes: 1.2T, 35.25B, 980M, 12.5K.
UNITS = ((12, "T"), (9, "B"), (6, "M"), (3, "K"))
CENT = Decimal("0.01")


def compact_amount(value: Decimal | None) -> str | None:
    """A market cap or volume in short units, two decimals at most: 1.2T, 980M."""
    if value is None:
        return None
    for exponent, unit in UNITS:
        if abs(value) >= Decimal(1).scaleb(exponent):
            # scaleb is exact; ROUND_HALF_UP rounds ties away from zero, as
            # PostgreSQL's round() does.
            short = value.scaleb(-exponent).quantize(CENT, ROUND_HALF_UP)
            return decimal_text(short) + unit
    return decimal_text(value)


def compact_sql(expression: str) -> str:
    """compact_amount in SQL, for the alert's own threshold."""
    cases = " ".join(
        f"WHEN abs({expression}) >= 1e{exponent} THEN CAST(trim_scale(round("
        f"{expression} * 1e-{exponent}, 2)) AS TEXT) || '{unit}'"
        for exponent, unit in UNITS
    )
    return f"(CASE {cases} ELSE CAST(trim_scale({expression}) AS TEXT) END)"


def _sql_in(conditions) -> str:
    return "(" + ", ".join(f"'{condition}'" for condition in sorted(conditions)) + ")"


def _trimmed(expression: str) -> str:
    return f"CAST(trim_scale({expression}) AS TEXT)"


# Each metric level's words, its batch text and the threshold's wording.
_METRIC_WORDS = {
    "market_cap": ("Market cap", "b.market_cap_text", compact_sql("c.threshold") + " || b.unit"),
    "volume_24h": ("24 h volume", "b.volume_text", compact_sql("c.threshold") + " || b.unit"),
    "change_24h_pct": ("24 h change", "b.change_text", _trimmed("c.threshold") + " || '%%'"),
}


def _metric_level_sql() -> str:
    cases = []
    for condition in sorted(METRIC_LEVEL_CONDITIONS):
        name, value, threshold = _METRIC_WORDS[METRIC_OF[condition]]
        side = "above" if condition.endswith("above") else "below"
        cases.append(
            f"WHEN '{condition}' THEN '{name} ' || {value} || ' is at or {side} ' "
            f"|| {threshold} || '.'"
        )
    return "CASE c.condition " + " ".join(cases) + " END"


# The reason of claimed alert `c` firing on its coin's batch row `b` and, for
# a movement alert, its window's moves row `m` (reason_start). `c` carries
# the alert's condition, target, percent, threshold, range_low and
# range_high, and for a step alert the reference it moved from (step_from)
# and whether that was the price at its last firing (step_from_firing).
# `%%` is a literal percent sign in a statement run with parameters. A
# reason is never NULL: a part missing (a row written by hand) gives the
# plain fallback rather than fail the whole batch.
REASON_SQL = f"""COALESCE(CASE
    WHEN c.condition IN {_sql_in(MOVEMENT_CONDITIONS)}
        THEN m.reason_start || CAST(trim_scale(c.percent) AS TEXT) || '%% asked for.'
    WHEN c.condition IN {_sql_in(PRICE_LEVEL_CONDITIONS)}
        THEN 'Price ' || b.price_text || ' is at or '
            || CASE WHEN c.condition = '{Condition.ABOVE}' THEN 'above' ELSE 'below' END
            || ' ' || CAST(trim_scale(c.target) AS TEXT) || b.unit || '.'
    WHEN c.condition IN {_sql_in(EDGE_CONDITIONS)}
        THEN 'Price crossed ' || b.direction || ' through '
            || CAST(trim_scale(c.target) AS TEXT) || b.unit
            || ' (' || b.previous_text || ' → ' || b.price_text || ').'
    WHEN c.condition IN {_sql_in(METRIC_LEVEL_CONDITIONS)} THEN {_metric_level_sql()}
    WHEN c.condition = '{Condition.MARKET_CAP_CROSSES}'
        THEN 'Market cap crossed '
            || CASE WHEN b.market_cap > b.previous_market_cap THEN 'up' ELSE 'down' END
            || ' through ' || {compact_sql("c.threshold")} || b.unit
            || ' (' || b.previous_market_cap_text || ' → ' || b.market_cap_text || ').'
    WHEN c.condition IN ('{Condition.ENTERS_RANGE}', '{Condition.EXITS_RANGE}')
        THEN 'Price ' || b.price_text
            || CASE WHEN c.condition = '{Condition.ENTERS_RANGE}' THEN ' entered' ELSE ' left' END
            || ' the range ' || CAST(trim_scale(c.range_low) AS TEXT) || '–'
            || CAST(trim_scale(c.range_high) AS TEXT) || b.unit
            || ' (' || b.previous_text || ' → ' || b.price_text || ').'
    WHEN c.condition IN {_sql_in(STEP_CONDITIONS)}
        THEN 'Price moved ' || CASE WHEN b.price > c.step_from THEN 'up ' ELSE 'down ' END
            || CAST(round(abs(b.price - c.step_from) * 100 / c.step_from, 2) AS TEXT)
            || '%% from ' || CAST(trim_scale(c.step_from) AS TEXT) || b.unit
            || CASE WHEN c.step_from_firing THEN ' at the last alert'
                ELSE ' when the alert was set' END
            || ' (' || CAST(trim_scale(c.step_from) AS TEXT) || b.unit || ' → ' || b.price_text
            || ').'
END, 'Price ' || b.price_text || ' met the alert''s condition.')"""


def price_text(price: Decimal | None, currency: str | None = None) -> str | None:
    """A price in a reason: plain in the base (30010.5), else as pages print it (€27,612.40).

    `currency` is None for the base: a batch words thousands of prices, and
    callers know which rows are in the base.
    """
    if price is None:
        return None
    if currency is None:
        return decimal_text(price)
    return format_price(price, currency)


def price_texts(
    price: Decimal, previous: Decimal | None, currency: str | None = None
) -> tuple[str, str | None, str | None]:
    """A coin's parts of level and crossing reasons: price, previous price, direction."""
    if previous is None:
        return price_text(price, currency), None, None
    direction = "up" if price > previous else "down"
    return price_text(price, currency), price_text(previous, currency), direction


def metric_texts(
    market_cap: Decimal | None,
    previous_market_cap: Decimal | None,
    volume_24h: Decimal | None,
    change_24h_pct: Decimal | None,
    currency: str | None = None,
) -> tuple[str | None, str | None, str | None, str | None]:
    """A coin's parts of metric reasons: market cap (now, before), volume, 24 h change.

    `currency` is None for the base, as for price_text.
    """
    change = None if change_24h_pct is None else decimal_text(change_24h_pct) + "%"
    unit = f" {currency.upper()}" if currency else ""

    def amount(value: Decimal | None) -> str | None:
        # Converted figures carry many digits: rounded to cents first.
        text = compact_amount(None if value is None else value.quantize(CENT, ROUND_HALF_UP))
        return None if text is None else text + unit

    return amount(market_cap), amount(previous_market_cap), amount(volume_24h), change


# Window(value).label builds an enum member per call; 750 calls a batch.
_WINDOW_LABELS = dict(Window.choices)


def movement_reason_start(
    window: str, reference_text: str, price_text: str, change_pct: Decimal
) -> str:
    """A movement alert's reason up to its own percent ("… at least the ").

    The prices come worded (price_text): a batch words each coin's price
    once for its three windows.
    """
    verb = "rose" if change_pct > 0 else "fell"
    return (
        f"Price {verb} {abs(change_pct):.2f}% within {_WINDOW_LABELS[window]} "
        f"({reference_text} → {price_text}), at least the "
    )
