import pytest

from prices.models import Coin, WatchlistEntry
from prices.tests.coins import catalogue_coin

pytestmark = pytest.mark.django_db


@pytest.fixture
def bitcoin():
    return catalogue_coin("bitcoin", "btc", "Bitcoin", rank=1)


def watched_ids(user) -> list[str]:
    return list(user.watchlist.values_list("coin__coingecko_id", flat=True))


def test_it_adds_a_coin_to_the_owners_watchlist(client, owner, bitcoin):
    client.force_login(owner)

    response = client.post("/watchlist/add/", {"coin": "bitcoin"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert watched_ids(owner) == ["bitcoin"]


def test_watching_a_catalogue_coin_starts_polling_it(client, owner):
    coin = catalogue_coin("pepe", "pepe", "Pepe", rank=40)
    assert coin.is_tracked is False
    client.force_login(owner)

    client.post("/watchlist/add/", {"coin": "pepe"})

    coin.refresh_from_db()
    assert coin.is_tracked is True


def test_it_adds_a_coin_only_once(client, owner, bitcoin):
    client.force_login(owner)

    client.post("/watchlist/add/", {"coin": "bitcoin"})
    client.post("/watchlist/add/", {"coin": "bitcoin"})

    assert watched_ids(owner) == ["bitcoin"]


def test_it_answers_json_when_asked(client, owner, bitcoin):
    client.force_login(owner)

    response = client.post(
        "/watchlist/add/", {"coin": "bitcoin"}, headers={"Accept": "application/json"}
    )

    assert response.json()["watched"] is True


def test_it_returns_404_for_an_unknown_coin(client, owner):
    client.force_login(owner)

    assert client.post("/watchlist/add/", {"coin": "no-such-coin"}).status_code == 404
    assert watched_ids(owner) == []


def test_it_sends_anonymous_visitors_to_log_in(client, bitcoin):
    response = client.post("/watchlist/add/", {"coin": "bitcoin"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert WatchlistEntry.objects.count() == 0


def test_it_refuses_get(client, owner, bitcoin):
    client.force_login(owner)

    assert client.get("/watchlist/add/", {"coin": "bitcoin"}).status_code == 405


def test_it_removes_a_coin_from_the_owners_watchlist(client, owner, bitcoin):
    WatchlistEntry.objects.create(user=owner, coin=bitcoin)
    client.force_login(owner)

    response = client.post("/watchlist/bitcoin/remove/")

    assert response.status_code == 302
    assert watched_ids(owner) == []


def test_a_stranger_cannot_remove_the_owners_coin(client, owner, stranger, bitcoin):
    WatchlistEntry.objects.create(user=owner, coin=bitcoin)
    client.force_login(stranger)

    response = client.post("/watchlist/bitcoin/remove/")

    assert response.status_code == 404
    assert watched_ids(owner) == ["bitcoin"]


def test_anonymous_visitors_cannot_remove_anything(client, owner, bitcoin):
    WatchlistEntry.objects.create(user=owner, coin=bitcoin)

    response = client.post("/watchlist/bitcoin/remove/")

    assert response.status_code == 302
    assert watched_ids(owner) == ["bitcoin"]


def test_it_returns_to_a_local_next_page_only(client, owner, bitcoin):
    client.force_login(owner)

    local = client.post("/watchlist/add/", {"coin": "bitcoin", "next": "/coins/bitcoin/"})
    foreign = client.post("/watchlist/add/", {"coin": "bitcoin", "next": "https://evil.test/"})

    assert local["Location"] == "/coins/bitcoin/"
    assert foreign["Location"] == "/"


def test_a_coin_past_the_tracking_cap_is_refused_with_the_reason(client, owner, settings):
    settings.MAX_TRACKED_COINS = 1
    Coin.objects.create(coingecko_id="bitcoin", symbol="btc", name="Bitcoin", is_tracked=True)
    pepe = catalogue_coin("pepe", "pepe", "Pepe", rank=40)
    client.force_login(owner)

    response = client.post("/watchlist/add/", {"coin": "pepe"}, follow=True)

    pepe.refresh_from_db()
    assert pepe.is_tracked is False and watched_ids(owner) == []
    assert "already polls its most coins (1)" in response.content.decode()


def test_a_tracked_coin_may_still_be_watched_at_the_cap(client, owner, settings):
    settings.MAX_TRACKED_COINS = 1
    Coin.objects.create(coingecko_id="bitcoin", symbol="btc", name="Bitcoin", is_tracked=True)
    client.force_login(owner)

    client.post("/watchlist/add/", {"coin": "bitcoin"})

    assert watched_ids(owner) == ["bitcoin"]


def test_a_full_watchlist_refuses_one_more_coin_in_json(client, owner, settings, bitcoin):
    settings.WATCHLIST_MAX_PER_USER = 1
    client.force_login(owner)
    client.post("/watchlist/add/", {"coin": "bitcoin"})
    catalogue_coin("pepe", "pepe", "Pepe", rank=40)

    response = client.post(
        "/watchlist/add/", {"coin": "pepe"}, headers={"Accept": "application/json"}
    )

    assert response.status_code == 409
    assert "holds its most, 1 coins" in response.json()["message"]
    assert watched_ids(owner) == ["bitcoin"]
