import pytest
from django.core.cache import cache

from prices.models import Coin
from prices.polling import LOCK_KEY, poll_once
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
        "tracked": False,
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


def test_it_tells_which_coins_are_tracked(client, catalogue):
    Coin.objects.filter(coingecko_id="ethereum").update(is_tracked=True)

    results = client.get("/coins/search.json", {"q": "ethereum"}).json()["results"]

    assert {coin["id"]: coin["tracked"] for coin in results} == {
        "ethereum": True,
        "ethereum-wormhole": False,
        "ethereum-classic": False,
    }


def test_the_dashboard_offers_to_track_a_coin_it_knows_but_does_not_poll(client, owner, catalogue):
    Coin.objects.filter(coingecko_id="ethereum").update(is_tracked=True)
    client.force_login(owner)

    html = client.get("/", {"q": "ethereum"}).content.decode()

    assert "No coin matches" not in html
    assert html.count("not tracked yet") == 2
    assert 'aria-label="Track Ethereum Classic (ethereum-classic)">Track Ethereum Classic<' in html
    assert 'aria-label="Watch Ethereum (ethereum)">Watch<' in html


def test_tracking_a_found_coin_polls_it_from_the_next_poll(client, owner, fake_coingecko, settings):
    settings.TRACKED_COINS = ["bitcoin"]
    settings.COINGECKO_MAX_RETRIES = 0
    cache.delete(LOCK_KEY)
    catalogue_coin("coin-00100", "c0100", "Coin 100")
    client.force_login(owner)

    response = client.post("/watchlist/add/", {"coin": "coin-00100"}, follow=True)
    poll_once()

    assert "Coin 100 (C0100) is now tracked: its price comes with the next poll." in (
        response.content.decode()
    )
    asked = fake_coingecko.requests[-1].query["ids"].split(",")
    assert asked == ["bitcoin", "coin-00100"]
    assert Coin.objects.get(coingecko_id="coin-00100").price is not None
