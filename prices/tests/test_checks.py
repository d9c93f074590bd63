from django.test import override_settings

from prices.checks import check_coingecko_key, check_exchange_rate_intervals


def check_ids() -> list[str]:
    return [message.id for message in check_coingecko_key()]


@override_settings(PRICE_SOURCE="coingecko", COINGECKO_API_PLAN="public", COINGECKO_API_KEY="")
def test_it_accepts_the_public_plan_without_a_key():
    assert check_ids() == []


@override_settings(PRICE_SOURCE="coingecko", COINGECKO_API_PLAN="demo", COINGECKO_API_KEY="CG-1")
def test_it_accepts_a_plan_with_its_key():
    assert check_ids() == []


@override_settings(PRICE_SOURCE="coingecko", COINGECKO_API_PLAN="public", COINGECKO_API_KEY="CG-1")
def test_it_warns_when_a_key_would_never_be_sent():
    assert check_ids() == ["prices.W001"]


@override_settings(PRICE_SOURCE="coingecko", COINGECKO_API_PLAN="pro", COINGECKO_API_KEY="")
def test_it_refuses_a_paid_plan_without_a_key():
    assert check_ids() == ["prices.E001"]


@override_settings(PRICE_SOURCE="simulated", COINGECKO_API_PLAN="pro", COINGECKO_API_KEY="")
def test_it_ignores_the_key_when_prices_are_simulated():
    assert check_ids() == []


def rate_check_ids() -> list[str]:
    return [message.id for message in check_exchange_rate_intervals()]


@override_settings(EXCHANGE_RATES_SECONDS=300, EXCHANGE_RATE_STALE_SECONDS=3600)
def test_it_accepts_rates_that_stay_fresh_over_several_fetches():
    assert rate_check_ids() == []


@override_settings(EXCHANGE_RATES_SECONDS=0)
def test_it_refuses_exchange_rates_that_are_never_fetched():
    assert rate_check_ids() == ["prices.E002"]


@override_settings(EXCHANGE_RATES_SECONDS=600, EXCHANGE_RATE_STALE_SECONDS=600)
def test_it_warns_when_rates_go_stale_before_the_next_fetch():
    assert rate_check_ids() == ["prices.W002"]
