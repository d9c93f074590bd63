"""The money filter prints what its docstring promises (and live.js prints the same)."""

from decimal import Decimal

import pytest

from prices.currencies import Display, Rate
from prices.templatetags.price_format import compact_money, money


@pytest.mark.parametrize(
    ("price", "shown"),
    [
        ("27000.5", "$27,000.50"),
        ("1", "$1.00"),
        ("0.5", "$0.5"),
        ("0.08123456", "$0.08123"),
        ("0.00012345", "$0.0001234"),
        ("0.0000891234", "$8.9123e-5"),
        ("0.00000001", "$1.0000e-8"),
    ],
)
def test_it_formats_each_magnitude_as_documented(price, shown, settings):
    settings.VS_CURRENCY = "usd"

    assert money(price) == shown


def test_a_currency_without_a_symbol_is_named_after_the_number(settings):
    settings.VS_CURRENCY = "chf"

    assert money("0.0000891234") == "8.9123e-5 CHF"


def test_a_base_price_is_converted_into_the_pages_currency():
    rate = Rate(currency="eur", base="usd", factor=Decimal("0.92"))

    assert money("27000.5", Display(rate, "eur")) == "€24,840.46"
    assert compact_money("1320000000000", rate) == "€1.21T"


def test_an_amount_already_in_a_currency_is_only_labelled():
    assert money("4036574.75", "jpy") == "¥4,036,575"
