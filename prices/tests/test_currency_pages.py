"""Pages show prices in the reader's display currency, converted on read, or say why not."""

import json
import re
from datetime import timedelta

import pytest

from accounts.models import Profile
from alerts.models import Alert, Condition
from prices.tests.coins import priced_coin, rates_fetched

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client, owner):
    """The owner, signed in, reading prices in EUR."""
    Profile.objects.create(user=owner, display_currency="eur")
    client.force_login(owner)
    return owner


def page_rate(html: str) -> dict:
    script = re.search(
        r'<script id="display-currency" type="application/json">(.*?)</script>', html
    )
    return json.loads(script.group(1))


def test_the_dashboard_shows_prices_in_the_readers_currency(client, reader):
    priced_coin("bitcoin", ("27000", "27500"))
    rates_fetched(eur="0.92")

    html = client.get("/").content.decode()

    assert 'data-currency="eur" data-coin="bitcoin" data-field="price">€25,300.00<' in html
    assert "out of date" not in html


def test_a_visitor_sees_the_base_currency(client):
    priced_coin("bitcoin", ("27000", "27500"))
    rates_fetched(eur="0.92")

    html = client.get("/").content.decode()

    assert 'data-currency="usd" data-coin="bitcoin" data-field="price">$27,500.00<' in html
    assert page_rate(html)["factor"] == "1"


def test_the_coin_page_converts_the_price_market_cap_and_volume(client, owner):
    Profile.objects.create(user=owner, display_currency="jpy")
    client.force_login(owner)
    coin = priced_coin("bitcoin", ("27000", "27500"))
    rates_fetched(jpy="149.5")

    html = client.get(coin.get_absolute_url()).content.decode()

    assert 'data-field="price">¥4,111,250<' in html
    assert 'data-field="market_cap">¥74.75T<' in html
    assert 'data-field="volume_24h">¥1.79T<' in html
    assert 'data-currency="jpy" data-range="24h"' in html and "Price chart <small" in html


def test_the_page_hands_live_js_the_rate_it_converts_with(client, reader):
    rates_fetched(eur="0.92")

    data = page_rate(client.get("/").content.decode())

    assert (data["currency"], data["base"], data["factor"], data["symbol"]) == (
        "eur",
        "usd",
        "0.92",
        "€",
    )


def test_a_stale_rate_shows_the_banner_since_when_and_prices_in_the_base(client, reader, settings):
    settings.EXCHANGE_RATE_STALE_SECONDS = 3600
    priced_coin("bitcoin", ("27000", "27500"))
    rates_fetched(timedelta(hours=2), eur="0.92")

    html = client.get("/").content.decode()

    banner = re.search(r'<p[^>]*id="currency-stale-banner".*?</p>', html, re.S).group(0)
    assert "<strong>EUR prices are out of date.</strong>" in banner
    assert re.search(r"The last EUR exchange rate is from <time [^>]*>2h ago</time>", banner)
    assert "prices are shown in USD until a new one comes" in banner
    assert 'data-currency="usd" data-coin="bitcoin" data-field="price">$27,500.00<' in html
    assert page_rate(html)["currency"] == "usd"


def test_before_any_rate_the_banner_says_none_came_yet(client, reader):
    priced_coin("bitcoin")

    html = client.get("/").content.decode()

    assert "No EUR exchange rate has been fetched yet: prices are shown in USD" in html


def test_the_coin_page_banner_says_the_same(client, reader):
    coin = priced_coin("bitcoin")

    assert "EUR prices are out of date" in client.get(coin.get_absolute_url()).content.decode()


def test_the_charts_alert_lines_are_in_the_charts_currency(client, reader):
    coin = priced_coin("bitcoin")
    rates_fetched(eur="0.92")
    Alert.objects.create(user=reader, coin=coin, condition=Condition.ABOVE, target=30000)

    html = client.get(coin.get_absolute_url()).content.decode()

    lines = re.search(
        r'<script id="alert-price-lines" type="application/json">(.*?)</script>', html
    )
    assert json.loads(lines.group(1)) == [{"price": "27600", "title": "above"}]


def test_the_charts_line_for_an_alert_set_in_the_charts_currency_is_its_target(client, reader):
    coin = priced_coin("bitcoin")
    rates_fetched(eur="0.92")
    Alert.objects.create(
        user=reader, coin=coin, condition=Condition.ABOVE, target=27000, currency="eur"
    )

    html = client.get(coin.get_absolute_url()).content.decode()

    lines = re.search(
        r'<script id="alert-price-lines" type="application/json">(.*?)</script>', html
    )
    assert json.loads(lines.group(1)) == [{"price": "27000", "title": "above"}]


# --- the chart's history ---------------------------------------------------------------


def test_the_history_comes_in_the_currency_asked_for(client):
    priced_coin("bitcoin", ("27000", "27100.25"))
    rates_fetched(eur="0.92")

    body = client.get("/coins/bitcoin/history.json", {"range": "1h", "currency": "eur"}).json()

    assert body["currency"] == "eur"
    assert [price for _, price in body["points"]] == ["24840", "24932.23"]


def test_the_history_is_in_the_base_unless_asked(client):
    priced_coin("bitcoin", ("27000",))

    assert client.get("/coins/bitcoin/history.json").json()["currency"] == "usd"


def test_the_history_refuses_a_currency_not_offered(client):
    priced_coin("bitcoin")

    response = client.get("/coins/bitcoin/history.json", {"currency": "chf"})

    assert response.status_code == 400
    assert "'chf' is not a display currency" in response.json()["error"]


def test_the_history_refuses_a_stale_rate_rather_than_pass_it_off_as_current(client, settings):
    settings.EXCHANGE_RATE_STALE_SECONDS = 3600
    priced_coin("bitcoin")
    rates_fetched(timedelta(hours=2), gbp="0.79")

    response = client.get("/coins/bitcoin/history.json", {"currency": "gbp"})

    assert response.status_code == 409
    assert "GBP exchange rate is out of date" in response.json()["error"]
