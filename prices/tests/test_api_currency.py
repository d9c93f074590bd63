"""`?currency=` on the public prices API: amounts converted on read, or a clear refusal."""

from datetime import timedelta

import pytest

from prices.models import WatchlistEntry
from prices.tests.coins import priced_coin, rates_fetched

pytestmark = pytest.mark.django_db


@pytest.fixture
def bitcoin():
    return priced_coin("bitcoin", ("27000", "27500"), symbol="btc", market_cap_rank=1)


def test_coins_come_in_the_base_currency_unless_asked(api_client, bitcoin):
    coin = api_client.get("/api/v1/coins/").json()["results"][0]

    assert (coin["price"], coin["currency"]) == ("27500", "usd")


def test_the_list_converts_price_market_cap_and_volume(api_client, bitcoin):
    rates_fetched(jpy="149.5")

    coin = api_client.get("/api/v1/coins/", {"currency": "jpy"}).json()["results"][0]

    assert (coin["price"], coin["market_cap"], coin["volume_24h"], coin["currency"]) == (
        "4111250",
        "74750000000000",
        "1794000000000",
        "jpy",
    )
    assert coin["change_24h_pct"] == "1.25"


def test_one_coin_converts_into_bitcoin_to_the_satoshi_and_beyond(api_client, bitcoin):
    rates_fetched(btc="0.00004320156424223808")

    coin = api_client.get("/api/v1/coins/bitcoin/", {"currency": "btc"}).json()

    # 27500 x 0.00004320156424223808, to 14 + 5 places.
    assert coin["price"] == "1.1880430166615472"


def test_a_currency_not_offered_is_a_400_naming_the_parameter(api_client, bitcoin):
    response = api_client.get("/api/v1/coins/", {"currency": "chf"})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"currency": ['"chf" is not a valid choice.']}


def test_a_stale_rate_is_a_409_saying_since_when(api_client, bitcoin, settings):
    settings.EXCHANGE_RATE_STALE_SECONDS = 3600
    rates_fetched(timedelta(hours=2), eur="0.92")

    response = api_client.get("/api/v1/coins/", {"currency": "eur"})

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "exchange_rate_unavailable"
    assert error["message"].startswith("the EUR exchange rate is out of date (fetched ")
    assert error["message"].endswith("ask again later, or in usd.")


def test_a_currency_never_fetched_is_a_409_too(api_client, bitcoin):
    response = api_client.get("/api/v1/coins/bitcoin/", {"currency": "gbp"})

    assert response.status_code == 409
    assert "no GBP exchange rate has been fetched yet" in response.json()["error"]["message"]


def test_history_is_converted_point_by_point(api_client, bitcoin):
    rates_fetched(eur="0.92")

    body = api_client.get(
        "/api/v1/coins/bitcoin/history/", {"range": "1h", "currency": "eur"}
    ).json()

    assert body["currency"] == "eur"
    assert [point["price"] for point in body["points"]] == ["24840", "25300"]


def test_history_by_symbol_takes_the_currency_too(api_client, bitcoin):
    rates_fetched(gbp="0.79")

    body = api_client.get("/api/v1/prices/btc/history/", {"range": "1h", "currency": "gbp"})

    assert [point["price"] for point in body.json()["points"]] == ["21330", "21725"]


def test_history_refuses_a_bad_range_and_a_bad_currency_alike(api_client, bitcoin):
    response = api_client.get("/api/v1/coins/bitcoin/history/", {"currency": "xx"})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["currency"]


def test_the_owners_watchlist_converts_its_snapshots(owner_api, owner, bitcoin):
    WatchlistEntry.objects.create(user=owner, coin=bitcoin)
    rates_fetched(eur="0.92")

    entry = owner_api.get("/api/v1/watchlist/", {"currency": "eur"}).json()["results"][0]

    assert (entry["snapshot"]["price"], entry["snapshot"]["currency"]) == ("25300", "eur")
