"""GET /api/v1/coins/: an ETag of the rows, 304 to a match, pages from the per-process cache.

Never stale, one query on a hit. Transactional tests: production requests run
in autocommit, where every write is a transaction of its own (inside one, the
list has no ETag).
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from prices.ingest import store_quotes
from prices.models import Coin, PriceSource
from prices.tests.coins import catalogue_coin, priced_coin, rates_fetched
from prices.tests.pipeline import quote

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalogue():
    bitcoin = priced_coin("bitcoin", symbol="btc", name="Bitcoin", market_cap_rank=1)
    catalogue_coin("ethereum", "eth", "Ethereum", rank=2)
    return bitcoin


def listed(client, url: str = "/api/v1/coins/", **extra) -> dict:
    response = client.get(url, **extra)
    assert response.status_code == 200, response.content
    return response.json()


def prices(client) -> dict[str, str | None]:
    return {coin["id"]: coin["price"] for coin in listed(client)["results"]}


def test_a_repeated_read_costs_one_query(api_client, catalogue, django_assert_num_queries):
    first = listed(api_client)

    with django_assert_num_queries(1):  # the validator; no count, no page query
        assert listed(api_client) == first


def test_a_poll_shows_at_once(api_client, catalogue):
    assert prices(api_client)["bitcoin"] == "27500"

    store_quotes([quote("bitcoin", "28000.5", at=timezone.now())], PriceSource.COINGECKO)

    assert prices(api_client)["bitcoin"] == "28000.5"


def test_a_raw_sql_update_shows_at_once(api_client, catalogue):
    # Like the ingest's bulk UPDATE: no signal, no save(), no timestamp of ours.
    prices(api_client)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE prices_coin SET name = 'Ether' WHERE coingecko_id = 'ethereum'")

    names = [coin["name"] for coin in listed(api_client)["results"]]
    assert names == ["Bitcoin", "Ether"]


def test_a_new_and_a_deleted_coin_show_at_once(api_client, catalogue):
    prices(api_client)
    Coin.objects.filter(coingecko_id="ethereum").delete()
    catalogue_coin("dogecoin", "doge", "Dogecoin", rank=8)

    assert list(prices(api_client)) == ["bitcoin", "dogecoin"]


def test_each_filter_and_page_gets_its_own_answer(api_client, catalogue):
    def ids(url: str) -> list[str]:
        return [coin["id"] for coin in listed(api_client, url)["results"]]

    assert ids("/api/v1/coins/") == ["bitcoin", "ethereum"]
    assert ids("/api/v1/coins/?tracked=true") == ["bitcoin"]
    assert ids("/api/v1/coins/?page_size=1&page=2") == ["ethereum"]


def test_pagination_links_name_the_host_that_was_asked(api_client, catalogue):
    local = listed(api_client, "/api/v1/coins/?page_size=1", HTTP_HOST="localhost")
    loopback = listed(api_client, "/api/v1/coins/?page_size=1", HTTP_HOST="127.0.0.1")

    assert local["next"].startswith("http://localhost/")
    assert loopback["next"].startswith("http://127.0.0.1/")


def test_a_coin_without_price_is_listed_as_such(api_client, catalogue):
    Coin.objects.filter(coingecko_id="bitcoin").update(price=None)

    assert prices(api_client)["bitcoin"] is None
    Coin.objects.filter(coingecko_id="bitcoin").update(price=Decimal("1.5"))
    assert prices(api_client)["bitcoin"] == "1.5"


def test_a_matching_if_none_match_gets_a_304_for_one_query(
    api_client, catalogue, django_assert_num_queries
):
    etag = api_client.get("/api/v1/coins/")["ETag"]

    with django_assert_num_queries(1):  # the validator
        repeat = api_client.get("/api/v1/coins/", HTTP_IF_NONE_MATCH=etag)

    assert repeat.status_code == 304
    assert repeat.content == b""
    assert repeat["ETag"] == etag


def test_a_weak_or_listed_etag_matches_too(api_client, catalogue):
    etag = api_client.get("/api/v1/coins/")["ETag"]

    for header in (f"W/{etag}", f'"other", {etag}', "*"):
        assert api_client.get("/api/v1/coins/", HTTP_IF_NONE_MATCH=header).status_code == 304


def test_a_changed_coin_changes_the_etag(api_client, catalogue):
    etag = api_client.get("/api/v1/coins/")["ETag"]
    store_quotes([quote("bitcoin", "28000.5", at=timezone.now())], PriceSource.COINGECKO)

    fresh = api_client.get("/api/v1/coins/", HTTP_IF_NONE_MATCH=etag)

    assert fresh.status_code == 200
    assert fresh["ETag"] != etag
    assert fresh.json()["results"][0]["price"] == "28000.5"


@pytest.mark.parametrize(
    "variant",
    [
        {"path": "/api/v1/coins/?page_size=1&page=2"},
        {"path": "/api/v1/coins/?page_size=1&tracked=true"},
        {"HTTP_ACCEPT": "application/json; indent=4"},
        {"HTTP_HOST": "localhost"},  # the pagination links' host
        {"secure": True},  # and their scheme
    ],
)
def test_what_the_page_depends_on_changes_the_etag(api_client, catalogue, variant):
    variant = dict(variant)
    path = variant.pop("path", "/api/v1/coins/?page_size=1")
    plain = api_client.get("/api/v1/coins/?page_size=1")

    other = api_client.get(path, HTTP_IF_NONE_MATCH=plain["ETag"], **variant)

    assert other.status_code == 200
    assert other["ETag"] != plain["ETag"]


def test_every_caller_shares_the_coin_lists_etag(api_client, owner_api, catalogue):
    etag = api_client.get("/api/v1/coins/")["ETag"]

    assert owner_api.get("/api/v1/coins/", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_each_currency_has_its_own_etag_and_a_new_rate_changes_it(api_client, catalogue):
    rates_fetched(eur="0.92")
    usd = api_client.get("/api/v1/coins/")["ETag"]
    eur = api_client.get("/api/v1/coins/?currency=eur")["ETag"]
    assert usd != eur

    rates_fetched(eur="0.93")
    response = api_client.get("/api/v1/coins/?currency=eur", HTTP_IF_NONE_MATCH=eur)

    assert response.status_code == 200
    assert response.json()["results"][0]["price"] == "25575"
    assert api_client.get("/api/v1/coins/")["ETag"] == usd
