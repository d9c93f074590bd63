import pytest

from prices.tests.coins import catalogue_coin, priced_coin

pytestmark = pytest.mark.django_db


def test_it_returns_the_coins_history_for_a_range(client):
    coin = priced_coin("bitcoin", ("27000", "27100.25", "27200.5"))

    response = client.get(f"/coins/{coin.coingecko_id}/history.json", {"range": "1h"})

    assert response.status_code == 200
    body = response.json()
    assert body["coin"] == "bitcoin"
    assert body["range"] == "1h"
    assert [price for _, price in body["points"]] == ["27000", "27100.25", "27200.5"]
    times = [time for time, _ in body["points"]]
    assert times == sorted(times)
    assert all(isinstance(time, int) for time in times)


def test_it_defaults_to_the_last_day(client):
    coin = priced_coin("bitcoin")

    assert client.get(f"/coins/{coin.coingecko_id}/history.json").json()["range"] == "24h"


def test_it_returns_an_empty_history_for_a_coin_without_prices(client):
    catalogue_coin("dogecoin", "doge", "Dogecoin")

    response = client.get("/coins/dogecoin/history.json", {"range": "7d"})

    assert response.json()["points"] == []


def test_it_rejects_an_unknown_range(client):
    priced_coin("bitcoin")

    response = client.get("/coins/bitcoin/history.json", {"range": "2w"})

    assert response.status_code == 400
    assert "1h, 24h, 7d, 30d, 1y, all" in response.json()["error"]


def test_it_returns_404_for_an_unknown_coin(client):
    assert client.get("/coins/no-such-coin/history.json").status_code == 404
