"""GET /api/v1/coins/, /coins/{id}/, /coins/{id}/history/ and /prices/{symbol}/history/."""

import pytest

from prices.models import Coin
from prices.tests.coins import catalogue_coin, priced_coin

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    bitcoin = priced_coin("bitcoin", symbol="btc", name="Bitcoin", market_cap_rank=1)
    Coin.objects.filter(pk=bitcoin.pk).update(market_cap_rank=1)
    catalogue_coin("ethereum", "eth", "Ethereum", rank=2)
    catalogue_coin("ethereum-wormhole", "eth", "Ethereum (Wormhole)", rank=900)
    catalogue_coin("dogecoin", "doge", "Dogecoin", rank=8)
    return bitcoin


def ids(response) -> list[str]:
    return [coin["id"] for coin in response.json()["results"]]


def test_anyone_can_list_coins_by_rank(api_client, catalogue):
    response = api_client.get("/api/v1/coins/")
    assert response.status_code == 200
    assert ids(response) == ["bitcoin", "ethereum", "dogecoin", "ethereum-wormhole"]
    assert response.json()["count"] == 4


def test_a_listed_coin_carries_its_latest_snapshot(api_client, catalogue):
    bitcoin = api_client.get("/api/v1/coins/").json()["results"][0]
    assert bitcoin["price"] == "27500"
    assert bitcoin["tracked"] is True
    assert bitcoin["market_cap_rank"] == 1
    assert bitcoin["updated_at"] is not None


def test_search_matches_symbol_name_and_id(api_client, catalogue):
    assert ids(api_client.get("/api/v1/coins/?search=DOGE")) == ["dogecoin"]
    assert ids(api_client.get("/api/v1/coins/?search=wormhole")) == ["ethereum-wormhole"]
    assert ids(api_client.get("/api/v1/coins/?search=bitcoin")) == ["bitcoin"]


def test_it_filters_tracked_coins(api_client, catalogue):
    assert ids(api_client.get("/api/v1/coins/?tracked=true")) == ["bitcoin"]
    assert "bitcoin" not in ids(api_client.get("/api/v1/coins/?tracked=false"))


def test_it_orders_by_reverse_rank(api_client, catalogue):
    assert ids(api_client.get("/api/v1/coins/?ordering=-rank"))[-1] == "bitcoin"


def test_it_ignores_unknown_query_parameters(api_client, catalogue):
    response = api_client.get("/api/v1/coins/?colour=blue&tracked=true")
    assert response.status_code == 200
    assert ids(response) == ["bitcoin"]


def test_it_rejects_a_tracked_value_that_is_not_a_boolean(api_client, catalogue):
    response = api_client.get("/api/v1/coins/?tracked=maybe")
    assert list(response.json()["error"]["fields"]) == ["tracked"]


def test_it_rejects_an_invalid_ordering(api_client, catalogue):
    response = api_client.get("/api/v1/coins/?ordering=price")
    assert response.status_code == 400
    assert "ordering" in response.json()["error"]["fields"]


def test_it_paginates_with_page_size(api_client, catalogue):
    body = api_client.get("/api/v1/coins/?page_size=2&page=2").json()
    assert [coin["id"] for coin in body["results"]] == ["dogecoin", "ethereum-wormhole"]
    assert body["previous"] is not None and body["next"] is None


def test_a_page_past_the_end_is_a_404(api_client, catalogue):
    response = api_client.get("/api/v1/coins/?page=9")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_shows_one_coin_by_coingecko_id(api_client, catalogue):
    response = api_client.get("/api/v1/coins/bitcoin/")
    assert response.status_code == 200
    assert response.json()["name"] == "Bitcoin"


def test_an_unknown_coin_is_a_404(api_client, catalogue):
    response = api_client.get("/api/v1/coins/no-such-coin/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_answers_the_history_of_a_coin(api_client, catalogue):
    response = api_client.get("/api/v1/coins/bitcoin/history/?range=1h")
    assert response.status_code == 200
    body = response.json()
    assert (body["coin"], body["range"]) == ("bitcoin", "1h")
    assert [point["price"] for point in body["points"]] == ["27000", "27500"]


def test_history_defaults_to_a_day(api_client, catalogue):
    assert api_client.get("/api/v1/coins/bitcoin/history/").json()["range"] == "24h"


def test_it_rejects_an_unknown_range(api_client, catalogue):
    response = api_client.get("/api/v1/coins/bitcoin/history/?range=2w")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["range"]


def test_a_unique_symbol_answers_its_history(api_client, catalogue):
    response = api_client.get("/api/v1/prices/BTC/history/?range=1h")
    assert response.status_code == 200
    assert response.json()["coin"] == "bitcoin"


def test_a_shared_symbol_answers_the_candidates(api_client, catalogue):
    response = api_client.get("/api/v1/prices/eth/history/")
    assert response.status_code == 300
    body = response.json()
    assert body["symbol"] == "eth"
    assert [coin["id"] for coin in body["candidates"]] == ["ethereum", "ethereum-wormhole"]


def test_an_unknown_symbol_is_a_404(api_client, catalogue):
    response = api_client.get("/api/v1/prices/zzz/history/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_coins_are_public_but_a_wrong_token_is_refused(api_client, catalogue):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get("/api/v1/coins/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_coins_are_the_same_for_a_signed_in_caller(owner_api, catalogue):
    assert ids(owner_api.get("/api/v1/coins/?search=btc")) == ["bitcoin"]
