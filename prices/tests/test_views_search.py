import pytest

from prices.tests.coins import catalogue_coin

pytestmark = pytest.mark.django_db


def result_ids(response) -> list[str]:
    return [coin["id"] for coin in response.json()["results"]]


@pytest.fixture
def catalogue():
    catalogue_coin("ethereum", "eth", "Ethereum", rank=2)
    catalogue_coin("ethereum-wormhole", "eth", "Ethereum (Wormhole)")
    catalogue_coin("ethereum-classic", "etc", "Ethereum Classic", rank=40)
    catalogue_coin("bitcoin", "btc", "Bitcoin", rank=1)


def test_it_finds_coins_by_symbol_showing_their_ids(client, catalogue):
    response = client.get("/coins/search.json", {"q": "ETH"})

    assert result_ids(response)[:2] == ["ethereum", "ethereum-wormhole"]
    first = response.json()["results"][0]
    assert first == {
        "id": "ethereum",
        "symbol": "eth",
        "name": "Ethereum",
        "rank": 2,
        "url": "/coins/ethereum/",
    }


def test_it_finds_coins_by_part_of_their_name(client, catalogue):
    assert result_ids(client.get("/coins/search.json", {"q": "classic"})) == ["ethereum-classic"]


def test_it_finds_coins_by_coingecko_id(client, catalogue):
    assert result_ids(client.get("/coins/search.json", {"q": "wormhole"})) == ["ethereum-wormhole"]


def test_it_returns_nothing_for_a_blank_query(client, catalogue):
    assert result_ids(client.get("/coins/search.json", {"q": "   "})) == []


def test_it_caps_the_number_of_results(client):
    for i in range(30):
        catalogue_coin(f"token-{i}", f"tk{i}", f"Token {i}")

    assert len(result_ids(client.get("/coins/search.json", {"q": "token"}))) == 20
