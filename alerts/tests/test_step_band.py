"""A step alert's band: step_band (saves, the preview) and band_sql (the claim) agree exactly."""

import random
from decimal import Decimal

import pytest
from django.db import connection

from alerts.steps import band_sql, step_band

pytestmark = pytest.mark.django_db

EXTREMES = [
    (Decimal("0.00000000000001"), Decimal("0.0001")),  # the smallest price and step
    (Decimal("0.00000000000003"), Decimal("50")),
    (Decimal("999999999999.99999999999999"), Decimal("1000")),  # the largest of both
    (Decimal("999999999999.99999999999999"), Decimal("99.9999")),
    (Decimal("30000"), Decimal("5")),
    (Decimal("31234.56789012345678"), Decimal("3.3333")),
    (Decimal("0.00012345678901"), Decimal("7.7777")),
]


def random_pairs(count: int) -> list[tuple[Decimal, Decimal]]:
    rng = random.Random(20230310)
    pairs = []
    for _ in range(count):
        digits = rng.randint(1, 26)
        units = rng.randint(1, 10**digits - 1)
        reference = Decimal(units).scaleb(-14)
        percent = Decimal(rng.randint(1, 10_000_000)).scaleb(-4)  # up to 1000 %
        pairs.append((reference, percent))
    return pairs


def bands_in_sql(pairs: list[tuple[Decimal, Decimal]]) -> list[tuple[Decimal, Decimal]]:
    low, high = band_sql("v.price", "v.percent")
    values = ", ".join("(%s::numeric(26,14), %s::numeric(14,4))" for _ in pairs)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {low}, {high} FROM (VALUES {values}) AS v(price, percent)",  # noqa: S608
            [value for pair in pairs for value in pair],
        )
        return cursor.fetchall()


def test_the_band_is_the_reference_plus_and_minus_the_percent():
    assert step_band("pct_step", Decimal("30000"), Decimal("5")) == (
        Decimal("28500"),
        Decimal("31500"),
    )


def test_the_band_rounds_outwards_to_the_price_precision():
    # 3e-14 × 1.5 = 4.5e-14 and × 0.5 = 1.5e-14: a price reaches the trigger
    # rounded outwards exactly when it reaches the exact one.
    low, high = step_band("pct_step", Decimal("0.00000000000003"), Decimal("50"))

    assert (low, high) == (Decimal("0.00000000000001"), Decimal("0.00000000000005"))


def test_a_one_sided_step_has_only_its_side():
    assert step_band("pct_step_up", Decimal("100"), Decimal("10"))[0] is None
    assert step_band("pct_step_down", Decimal("100"), Decimal("10"))[1] is None


@pytest.mark.parametrize("pairs", [EXTREMES, random_pairs(2000)], ids=["extremes", "random"])
def test_the_sql_band_equals_the_python_band_to_the_last_digit(pairs):
    in_sql = bands_in_sql(pairs)

    for (reference, percent), (low, high) in zip(pairs, in_sql, strict=True):
        assert (low, high) == step_band("pct_step", reference, percent), (reference, percent)
