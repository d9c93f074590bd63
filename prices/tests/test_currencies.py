"""prices.currencies: exact conversion, staleness, the page's fallback, formatting."""

from datetime import timedelta
from decimal import Decimal

import pytest

from prices.currencies import (
    RateUnavailable,
    UnsupportedCurrency,
    current_rates,
    display_for,
    format_compact,
    format_price,
    rate_for,
    usable_rate,
)
from prices.models import ExchangeRate
from prices.tests.coins import rates_fetched

pytestmark = pytest.mark.django_db

BTC_PER_USD = Decimal("0.00004320156424223808")  # 1 / 23147.31


# --- conversion ---------------------------------------------------------------------


def test_the_base_converts_with_factor_one_and_is_never_stale():
    rate = rate_for("usd")

    assert (rate.factor, rate.fetched_at, rate.stale) == (1, None, False)
    assert rate.convert(Decimal("27000.5")) == Decimal("27000.5")
    assert usable_rate("usd") == rate


def test_a_price_converts_to_the_exact_product_rounded_once():
    rates_fetched(eur="0.92")

    # 27000.12345678901234 x 0.92 = 24840.1135802458913528, to 15 places.
    assert rate_for("eur").convert(Decimal("27000.12345678901234")) == Decimal(
        "24840.113580245891353"
    )


def test_a_tiny_price_in_btc_keeps_the_digits_it_had_in_the_base():
    rates_fetched(btc=str(BTC_PER_USD))

    assert rate_for("btc").convert(Decimal("0.0000000001")) == Decimal("4.3202E-15")


def test_a_market_cap_converts_to_cents_exactly():
    rates_fetched(jpy="149.5")

    # 1320000000000.57 x 149.5 = 197340000000085.215: half to even.
    assert rate_for("jpy").convert_amount(Decimal("1320000000000.57")) == Decimal(
        "197340000000085.22"
    )


def test_an_amount_in_the_currency_goes_back_to_the_base():
    rates_fetched(eur="0.92")

    assert rate_for("eur").to_base(Decimal("25000")) == Decimal("27173.91304347826087")


def test_nothing_stays_nothing():
    rates_fetched(eur="0.92")

    assert rate_for("eur").convert(None) is None and rate_for("eur").to_base(None) is None


# --- staleness and availability -----------------------------------------------------


def test_a_rate_older_than_the_limit_is_stale_and_refused_where_it_must_be_fresh(settings):
    settings.EXCHANGE_RATE_STALE_SECONDS = 3600
    rates_fetched(timedelta(seconds=3601), eur="0.92")

    assert rate_for("eur").stale is True
    with pytest.raises(RateUnavailable, match="EUR exchange rate is out of date"):
        usable_rate("eur")


def test_a_rate_just_within_the_limit_is_fresh(settings):
    settings.EXCHANGE_RATE_STALE_SECONDS = 3600
    rates_fetched(timedelta(seconds=3590), eur="0.92")

    assert usable_rate("eur").factor == Decimal("0.92")


def test_a_currency_never_fetched_has_no_rate():
    with pytest.raises(RateUnavailable, match="no GBP exchange rate has been fetched yet"):
        rate_for("gbp")


def test_a_rate_stored_for_another_base_is_not_used(settings):
    rates_fetched(eur="0.92")
    settings.VS_CURRENCY = "gbp"
    settings.DISPLAY_CURRENCIES = ["gbp", "eur"]

    with pytest.raises(RateUnavailable):
        rate_for("eur")


def test_a_currency_that_is_not_displayed_is_refused():
    with pytest.raises(UnsupportedCurrency, match="'chf' is not a display currency"):
        rate_for("chf")


def test_every_rate_is_read_in_one_query(django_assert_num_queries, settings):
    settings.EXCHANGE_RATE_STALE_SECONDS = 3600
    rates_fetched(eur="0.92", jpy="149.5")
    rates_fetched(timedelta(hours=2), gbp="0.79")

    with django_assert_num_queries(1):
        rates = current_rates()

    assert set(rates) == {"usd", "eur", "jpy", "gbp"}
    assert rates["gbp"].stale and not rates["eur"].stale and rates["usd"].factor == 1


# --- what a page shows ----------------------------------------------------------------


def test_a_page_shows_the_wanted_currency_while_its_rate_is_fresh():
    rates_fetched(eur="0.92")

    display = display_for("eur")

    assert (display.code, display.fell_back) == ("eur", False)
    assert display.script_data()["factor"] == "0.92"
    assert display.script_data()["symbol"] == "€"


def test_a_page_falls_back_to_the_base_and_says_since_when_once_the_rate_is_stale(settings):
    settings.EXCHANGE_RATE_STALE_SECONDS = 3600
    rates_fetched(timedelta(hours=3), eur="0.92")

    display = display_for("eur")

    assert (display.code, display.wanted, display.fell_back) == ("usd", "eur", True)
    assert display.wanted_fetched_at == ExchangeRate.objects.get().fetched_at
    assert display.script_data()["factor"] == "1"


def test_a_page_falls_back_to_the_base_before_any_rate_came():
    display = display_for("jpy")

    assert (display.code, display.fell_back, display.wanted_fetched_at) == ("usd", True, None)


def test_a_reader_without_a_choice_sees_the_base():
    assert (display_for(None).code, display_for(None).fell_back) == ("usd", False)


# --- formatting (live.js mirrors these: test_live_js) ----------------------------------


# (amount, currency, as printed): live.js prints the same (test_live_js_currency).
PRICE_CASES = [
    ("27000.5", "usd", "$27,000.50"),
    ("24840.46", "eur", "€24,840.46"),
    ("0.08123456", "gbp", "£0.08123"),
    ("4036574.75", "jpy", "¥4,036,575"),
    ("99.5", "jpy", "¥99.50"),
    ("0.5", "jpy", "¥0.5"),
    ("1.16644", "btc", "₿1.16644"),
    ("12345.678912", "btc", "₿12,345.679"),
    ("0.0000043201564242", "btc", "₿0.0000043201564"),
    ("0.000000004320156", "btc", "₿4.3202e-9"),
    ("16.38932", "eth", "Ξ16.38932"),
    ("0", "btc", "₿0"),
    ("12.5", "chf", "12.50 CHF"),
]
COMPACT_CASES = [
    ("1320000000000", "usd", "$1.32T"),
    ("197340000000085.22", "jpy", "¥197.34T"),
    ("57026064.79", "btc", "₿57.03M"),
    ("950123.4", "eur", "€950,123"),
    ("1339.28401", "btc", "₿1,339.284"),
]


@pytest.mark.parametrize(("amount", "code", "shown"), PRICE_CASES)
def test_each_currency_is_formatted_with_sensible_decimals(amount, code, shown):
    assert format_price(Decimal(amount), code) == shown


@pytest.mark.parametrize(("amount", "code", "shown"), COMPACT_CASES)
def test_market_caps_are_compact_in_every_currency(amount, code, shown):
    assert format_compact(Decimal(amount), code) == shown
