"""The money filter prints what its docstring promises (and live.js prints the same)."""

import pytest

from prices.templatetags.price_format import money


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
