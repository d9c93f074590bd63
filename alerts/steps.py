"""The band of a step alert: the prices at which it next fires, in Python and in SQL.

A step alert (pct_step, pct_step_up, pct_step_down) with percent P fires
when the price has moved P % from its reference: the coin's price when the
alert was saved, then the price at each firing. The alert stores the band's
two trigger prices so matching is an index range scan like a price level:

    step_high = reference × (1 + P/100), rounded up to the price's precision
    step_low  = reference × (1 − P/100), rounded down

Rounding outwards keeps the rule exact in the base: its prices have 14
decimals, so a price reaches the rounded trigger exactly when it reaches the
exact one. An alert in another currency compares the exact converted price,
which has more decimals: it may pass the exact trigger by less than 1e-14
and not yet reach the rounded one (the next price past it fires). step_band
computes it for a save (and for the preview of history); band_sql() is the
same arithmetic for the claiming UPDATE, which moves the band to the firing
price in the statement that fires the alert. Both must agree to the last
digit (alerts/tests/test_step_band.py).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from prices.models import PRICE_DIGITS

# The price's precision: 14 decimals.
QUANTUM = Decimal(1).scaleb(-PRICE_DIGITS["decimal_places"])
HUNDRED = Decimal(100)

STEP = "pct_step"
STEP_UP = "pct_step_up"
STEP_DOWN = "pct_step_down"
# Which side of the band each step condition uses.
RISING_STEPS = (STEP, STEP_UP)
FALLING_STEPS = (STEP, STEP_DOWN)


def step_band(
    condition: str, reference: Decimal, percent: Decimal
) -> tuple[Decimal | None, Decimal | None]:
    """(step_low, step_high) of a step alert at `reference`; None for a side it does not use."""
    # Enough digits that the product and the division by 100 are exact
    # (26-digit prices times percents of 14 digits).
    with localcontext(prec=80):
        low = high = None
        if condition in FALLING_STEPS:
            low = (reference * (HUNDRED - percent) / HUNDRED).quantize(QUANTUM, ROUND_FLOOR)
        if condition in RISING_STEPS:
            high = (reference * (HUNDRED + percent) / HUNDRED).quantize(QUANTUM, ROUND_CEILING)
    return low, high


def band_sql(price: str, percent: str) -> tuple[str, str]:
    """SQL for (step_low, step_high) at the price and percent expressions given.

    NUMERIC multiplication is exact (its scale is the sum of the scales), so
    the product times 10^12 (× 0.01 to divide by 100, × 10^14 to count in
    units of the 14th decimal) is floored or ceiled to an integer and scaled
    back by 10^-14, with no division anywhere to round.
    """
    places = PRICE_DIGITS["decimal_places"]
    scale_up = f"1{'0' * (places - 2)}"  # 10^12: 0.01 × 10^14
    scale_down = f"0.{'0' * (places - 1)}1"  # 10^-14
    low = f"(floor(({price}) * (100 - ({percent})) * {scale_up}) * {scale_down})"
    high = f"(ceil(({price}) * (100 + ({percent})) * {scale_up}) * {scale_down})"
    return low, high
