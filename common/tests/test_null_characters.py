"""A NUL (%00) anywhere a view would hand it to PostgreSQL is a 400, never a 500.

PostgreSQL refuses NUL in text even in a WHERE clause; each case here raised
DataError (HTTP 500) before RefuseNullCharactersMiddleware.
"""

from __future__ import annotations

import pytest
from django.test import Client

from prices.tests.coins import priced_coin

pytestmark = pytest.mark.django_db

MESSAGE = "Null characters (%00) are not allowed"


@pytest.fixture
def visitor() -> Client:
    return Client(raise_request_exception=False)


@pytest.fixture
def member(owner) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    return client


@pytest.mark.parametrize(
    "url", ["/?q=%00", "/?q=bit%00coin", "/?%00=x", "/coins/bit%00coin/"], ids=str
)
def test_a_page_answers_400_with_a_page_that_says_why(visitor, url):
    response = visitor.get(url)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert MESSAGE in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/coins/search.json?q=%00",
        "/coins/bit%00coin/history.json",
        "/coins/bitcoin/history.json?range=24h%00",
    ],
    ids=str,
)
def test_a_json_feed_answers_400_in_json(visitor, url):
    priced_coin("bitcoin", ("1", "2"))

    response = visitor.get(url)

    assert response.status_code == 400
    assert MESSAGE in response.json()["error"]


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/watchlist/add/", {"coin": "bit\x00coin"}),
        ("/watchlist/bit%00coin/remove/", {}),
        ("/alerts/new/", {"coin": "bit\x00coin", "condition": "above", "target": "1"}),
    ],
    ids=["watch", "unwatch", "alert form"],
)
def test_a_form_post_answers_400(member, url, data):
    response = member.post(url, data)

    assert response.status_code == 400
    assert MESSAGE in response.content.decode()


@pytest.mark.parametrize("url", ["/alerts/new/?coin=bit%00coin", "/alerts/?status=%00"], ids=str)
def test_a_query_of_a_members_page_answers_400(member, url):
    assert member.get(url).status_code == 400


def test_an_admin_search_answers_400(admin_client):
    admin_client.raise_request_exception = False

    assert admin_client.get("/admin/prices/coin/?q=bit%00coin").status_code == 400


def test_the_api_answers_400_in_its_error_shape(visitor):
    body = visitor.get("/api/v1/coins/?search=bit%00coin").json()

    assert body["error"]["code"] == "validation_error"
    assert MESSAGE in body["error"]["fields"]["non_field_errors"][0]


def test_text_without_nul_still_reaches_the_views(visitor):
    priced_coin("bitcoin", ("1", "2"))

    assert visitor.get("/coins/search.json?q=bit").json()["results"][0]["id"] == "bitcoin"
    assert visitor.get("/?q=bit%01").status_code == 200


@pytest.mark.parametrize("url", ["/", "/healthz", "/api/v1/coins/", "/coins/search.json?q=bit"])
def test_a_session_cookie_with_nul_is_ignored_not_a_500(visitor, url):
    # The octal escape is how a quoted cookie value carries NUL (RFC 2109).
    response = visitor.get(url, HTTP_COOKIE='sessionid="\\000aaaaaaaaaaaaaaaa"')

    assert response.status_code in (200, 503)  # /healthz: 503 while the feed is stale
