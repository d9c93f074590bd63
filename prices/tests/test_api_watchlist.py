"""/api/v1/watchlist/: the caller's pinned coins."""

import pytest

from prices.models import WatchlistEntry
from prices.tests.coins import catalogue_coin

pytestmark = pytest.mark.django_db


@pytest.fixture
def bitcoin():
    return catalogue_coin("bitcoin", "btc", "Bitcoin", rank=1)


@pytest.fixture
def pinned(owner, bitcoin):
    return WatchlistEntry.objects.create(user=owner, coin=bitcoin)


def test_the_owner_lists_their_watchlist(owner_api, pinned):
    body = owner_api.get("/api/v1/watchlist/").json()
    assert [entry["coin"] for entry in body["results"]] == ["bitcoin"]
    assert body["results"][0]["snapshot"]["name"] == "Bitcoin"


def test_a_stranger_sees_an_empty_watchlist(stranger_api, pinned):
    assert stranger_api.get("/api/v1/watchlist/").json()["results"] == []


def test_anonymous_callers_get_a_401(api_client, pinned):
    response = api_client.get("/api/v1/watchlist/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")


def test_it_pins_a_coin_by_coingecko_id(owner_api, owner, bitcoin):
    response = owner_api.post("/api/v1/watchlist/", {"coin": "bitcoin"}, format="json")
    assert response.status_code == 201
    assert response.json()["coin"] == "bitcoin"
    assert owner.watchlist.get().coin == bitcoin


def test_it_rejects_a_coin_pinned_twice(owner_api, pinned):
    response = owner_api.post("/api/v1/watchlist/", {"coin": "bitcoin"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["coin"]


def test_it_rejects_an_unknown_coin(owner_api, bitcoin):
    response = owner_api.post("/api/v1/watchlist/", {"coin": "nope"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["coin"]


def test_the_owner_unpins_a_coin(owner_api, pinned):
    assert owner_api.delete("/api/v1/watchlist/bitcoin/").status_code == 204
    assert not WatchlistEntry.objects.exists()


def test_a_stranger_cannot_unpin_the_owners_coin(stranger_api, pinned):
    assert stranger_api.delete("/api/v1/watchlist/bitcoin/").status_code == 404
    assert WatchlistEntry.objects.filter(pk=pinned.pk).exists()


def test_anonymous_callers_cannot_pin(api_client, bitcoin):
    assert api_client.post("/api/v1/watchlist/", {"coin": "bitcoin"}).status_code == 401


def test_a_coin_past_the_tracking_cap_is_refused(owner_api, owner, settings):
    settings.MAX_TRACKED_COINS = 0
    catalogue_coin("pepe", "pepe", "Pepe", rank=40)

    response = owner_api.post("/api/v1/watchlist/", {"coin": "pepe"}, format="json")

    assert response.status_code == 400
    assert "already polls its most coins" in str(response.json())
    assert not owner.watchlist.exists()
