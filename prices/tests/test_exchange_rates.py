"""The exchange-rate task: one /exchange_rates request, a rate per display currency."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from prices.exchange_rates import cross_rates, refresh_exchange_rates
from prices.models import ExchangeRate, FeedState
from prices.quotes import FeedError
from prices.tasks import fetch_exchange_rates
from prices.tests.coins import priced_coin

pytestmark = pytest.mark.django_db


def stored() -> dict[str, Decimal]:
    return dict(ExchangeRate.objects.values_list("currency", "rate"))


def test_the_beat_task_stores_a_rate_from_the_base_to_each_display_currency(fake_coingecko):
    summary = fetch_exchange_rates()

    rates = stored()
    assert set(rates) == {"eur", "gbp", "jpy", "btc", "eth"}
    assert rates["eur"] == Decimal("0.92") and rates["jpy"] == Decimal("149.5")
    # 1 / 23147.31, rounded once at the 20th place.
    assert rates["btc"] == Decimal("0.00004320156424223808")
    assert fake_coingecko.paths() == ["/exchange_rates"]
    assert summary == "stored 5 exchange rates (eur, gbp, jpy, btc, eth)"


def test_each_rate_records_its_base_source_and_time(fake_coingecko):
    before = timezone.now()
    fetch_exchange_rates()

    rate = ExchangeRate.objects.get(currency="eur")
    assert (rate.base, rate.source) == ("usd", "coingecko")
    assert before <= rate.fetched_at <= timezone.now()


def test_a_new_fetch_replaces_each_rate_and_its_time(fake_coingecko):
    refresh_exchange_rates(now=timezone.now() - timedelta(minutes=5))
    fake_coingecko.set_exchange_rate("eur", "20000")

    refresh_exchange_rates()

    rate = ExchangeRate.objects.get(currency="eur")
    assert rate.rate == Decimal("0.86403128484476165913")  # 20000 / 23147.31
    assert timezone.now() - rate.fetched_at < timedelta(minutes=1)
    assert ExchangeRate.objects.count() == 5


def test_a_failed_fetch_keeps_the_rates_stored_before(fake_coingecko, caplog):
    fetch_exchange_rates()
    fetched_at = ExchangeRate.objects.get(currency="eur").fetched_at
    fake_coingecko.inject("500", times=None, path="/exchange_rates")

    summary = fetch_exchange_rates()

    assert summary.startswith("exchange rates not fetched: CoinGecko /exchange_rates: HTTP 500")
    assert ExchangeRate.objects.get(currency="eur").fetched_at == fetched_at
    assert "Exchange rates not fetched" in caplog.text


def test_it_asks_nothing_while_coingecko_makes_the_poller_wait(fake_coingecko):
    FeedState.current().record_failure("CoinGecko /coins/markets: HTTP 429", timedelta(minutes=2))

    summary = fetch_exchange_rates()

    assert summary.startswith("skipped: the price feed backs off until")
    assert fake_coingecko.paths() == [] and stored() == {}


def test_a_currency_coingecko_leaves_out_keeps_its_old_rate_and_is_reported(fake_coingecko):
    fetch_exchange_rates()
    old = ExchangeRate.objects.get(currency="gbp")
    fake_coingecko.set_exchange_rate("gbp", None)

    summary = fetch_exchange_rates()

    assert summary.endswith("; no rate for gbp")
    assert ExchangeRate.objects.get(currency="gbp").fetched_at == old.fetched_at


def test_without_a_rate_for_the_base_nothing_is_stored(fake_coingecko):
    fake_coingecko.set_exchange_rate("usd", None)

    summary = fetch_exchange_rates()

    assert "no rate for the base currency usd" in summary and stored() == {}


def test_the_simulated_feed_gives_rates_offline_from_its_own_bitcoin_price(settings):
    settings.PRICE_SOURCE = "simulated"
    priced_coin("bitcoin", ("30000",))

    fetch_exchange_rates()

    rates = stored()
    assert rates["btc"] == Decimal("0.00003333333333333333")
    assert rates["eur"] == Decimal("0.9432")
    assert ExchangeRate.objects.get(currency="eur").source == "simulated"


def test_a_cross_rate_is_the_quotient_of_the_two_bitcoin_rates_rounded_once():
    per_btc = {"usd": Decimal("60000"), "jpy": Decimal("9000000"), "btc": Decimal(1)}

    rates = cross_rates(per_btc, "usd", ["jpy", "btc", "gbp"])

    assert rates == {"jpy": Decimal("150"), "btc": Decimal("0.00001666666666666667")}


def test_a_cross_rate_needs_the_base():
    with pytest.raises(FeedError, match="no rate for the base currency eur"):
        cross_rates({"usd": Decimal("60000")}, "eur", ["usd"])
