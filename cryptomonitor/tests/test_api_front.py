"""ApiFront: repeated API list requests answered before Django, exactly as Django would.

Requests go through the production WSGI application (cryptomonitor.wsgi) in
this thread, on the test's database connection. Whether Django answered is
read from its request_started signal. Transactional tests: the front and the
page validators stand aside inside a transaction.
"""

import io
import logging
import random
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.signals import request_started
from django.db import connection
from django.utils import timezone

from accounts.models import ApiToken
from alerts.models import Alert
from cryptomonitor.api_front import OFFER, PAGES, ApiFront, Offer
from cryptomonitor.wsgi import application
from prices.models import Coin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_pages_kept():
    PAGES.clear()
    yield
    PAGES.clear()


@pytest.fixture
def django_requests():
    """How many requests Django itself has handled since the fixture started."""
    handled = []

    def count(**kwargs):
        handled.append(1)

    request_started.connect(count)
    yield handled
    request_started.disconnect(count)


class Answer:
    def __init__(self, status: str, headers: list, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def code(self) -> int:
        return int(self.status.split()[0])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def call(path: str, key: str | None = None, method: str = "GET", app=application, **headers):
    """One WSGI request; `headers` as environ keys (HTTP_ACCEPT=...)."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        **headers,
    }
    if key is not None:
        environ["HTTP_AUTHORIZATION"] = f"Token {key}"
    sent = []

    def start_response(status, response_headers, exc_info=None):
        sent.extend([status, response_headers])

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return Answer(sent[0], sent[1], body)


@pytest.fixture
def owner_key(owner):
    return ApiToken.issue(owner, "script")[1]


@pytest.fixture
def coins(db) -> list[Coin]:
    return [
        Coin.objects.create(
            coingecko_id=f"coin-{rank}",
            symbol=f"c{rank}",
            name=f"Coin {rank}",
            market_cap_rank=rank,
            is_tracked=True,
            price=Decimal(1000 + rank),
            price_updated_at=timezone.now(),
        )
        for rank in range(1, 4)
    ]


@pytest.fixture
def alert(owner, coins) -> Alert:
    return Alert.objects.create(
        user=owner, coin=coins[0], condition="above", target=Decimal("70000"), note="take profit"
    )


def test_a_repeated_token_request_is_answered_before_django(owner_key, alert, django_requests):
    first = call("/api/v1/alerts/", owner_key)
    second = call("/api/v1/alerts/", owner_key)

    assert first.code == 200
    assert (second.status, second.headers, second.body) == (first.status, first.headers, first.body)
    assert len(django_requests) == 1


def test_a_repeated_anonymous_request_is_answered_before_django(coins, django_requests):
    first = call("/api/v1/coins/")

    assert call("/api/v1/coins/").body == first.body
    assert len(django_requests) == 1


def test_a_changed_row_is_read_back_at_once(owner_key, alert, django_requests):
    call("/api/v1/alerts/", owner_key)
    Alert.objects.filter(pk=alert.pk).update(target=Decimal("72000"))

    answer = call("/api/v1/alerts/", owner_key)

    assert b'"target":"72000"' in answer.body
    assert len(django_requests) == 2


def test_a_revoked_token_is_refused_at_once(owner_key, alert):
    call("/api/v1/alerts/", owner_key)
    ApiToken.objects.update(revoked_at=timezone.now())

    assert call("/api/v1/alerts/", owner_key).code == 401


def test_a_deactivated_users_token_is_refused_at_once(owner, owner_key, alert):
    call("/api/v1/alerts/", owner_key)
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    assert call("/api/v1/alerts/", owner_key).code == 401


def test_another_users_token_gets_their_own_page(owner_key, stranger, alert):
    stranger_key = ApiToken.issue(stranger, "theirs")[1]
    call("/api/v1/alerts/", owner_key)
    call("/api/v1/alerts/", owner_key)

    assert b'"results":[]' in call("/api/v1/alerts/", stranger_key).body


def test_a_wrong_token_is_refused_even_for_a_kept_page(owner_key, alert):
    call("/api/v1/alerts/", owner_key)

    assert call("/api/v1/alerts/", owner_key + "x").code == 401


def test_the_tokens_use_is_still_recorded_each_minute(owner_key, alert, django_requests):
    call("/api/v1/alerts/", owner_key)
    two_minutes_ago = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.update(last_used_at=two_minutes_ago)

    call("/api/v1/alerts/", owner_key)

    assert ApiToken.objects.get().last_used_at > two_minutes_ago
    assert len(django_requests) == 2


def test_a_signed_in_browser_goes_through_django(owner, coins, client, django_requests):
    # Its session makes it a user, not the visitor the kept page was for.
    call("/api/v1/coins/")
    client.force_login(owner)
    session = client.cookies["sessionid"].value

    call("/api/v1/coins/", HTTP_COOKIE=f"sessionid={session}")

    assert len(django_requests) == 2


def test_other_methods_go_through_django(owner_key, alert, django_requests):
    call("/api/v1/alerts/", owner_key, method="HEAD")
    call("/api/v1/alerts/", owner_key, method="HEAD")

    assert len(django_requests) == 2


@pytest.mark.parametrize(
    "variant",
    [
        {"path": "/api/v1/coins/?page_size=1&ordering=-market_cap_rank"},
        {"HTTP_ACCEPT": "application/json; indent=4"},
        {"HTTP_HOST": "other.testserver"},  # the pagination links' host
        {"HTTP_X_FORWARDED_PROTO": "https"},  # and their scheme
    ],
)
def test_what_the_page_depends_on_keeps_pages_apart(coins, settings, variant):
    settings.ALLOWED_HOSTS = ["testserver", "other.testserver"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    first = "/api/v1/coins/?page_size=1"
    plain = call(first)
    variant = dict(variant)
    path = variant.pop("path", first)

    kept = call(path, **variant)

    assert kept.body == call(path, app=application.application, **variant).body  # Django's
    assert kept.body != plain.body


def test_an_unknown_host_stays_refused(coins):
    call("/api/v1/coins/")

    assert call("/api/v1/coins/", HTTP_HOST="evil.example").code == 400


def throttle_counter(user) -> int:
    window = int(time.time() // 86400)
    return cache.get(f"throttle_user_{user.pk}:{window}") or 0


def test_each_answer_counts_once_against_the_throttle(owner, owner_key, alert, settings):
    cache.delete(f"throttle_user_{owner.pk}:{int(time.time() // 86400)}")
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1000/day", "user": "3/day", "token_obtain": "9/day"},
    }
    answers = [call("/api/v1/alerts/", owner_key).code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
    assert throttle_counter(owner) == 4


def test_a_throttled_answer_says_when_to_retry(owner, owner_key, alert, settings):
    cache.delete(f"throttle_user_{owner.pk}:{int(time.time() // 86400)}")
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1000/day", "user": "2/day", "token_obtain": "9/day"},
    }
    for _ in range(2):
        call("/api/v1/alerts/", owner_key)

    refused = call("/api/v1/alerts/", owner_key)

    assert refused.code == 429
    assert 1 <= int(refused.header("Retry-After")) <= 86400
    assert b'"code":"throttled"' in refused.body


def test_anonymous_callers_are_throttled_per_address(coins, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/day", "user": "1000/day", "token_obtain": "9/day"},
    }
    address = f"10.6.{random.randrange(256)}.{random.randrange(256)}"

    codes = [call("/api/v1/coins/", REMOTE_ADDR=address).code for _ in range(3)]

    assert codes == [200, 200, 429]
    assert call("/api/v1/coins/", REMOTE_ADDR=address + "1").code == 200


@pytest.fixture
def persistent_connections(monkeypatch):
    # Production keeps connections (DB_CONN_MAX_AGE=60); tests close them after each request.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)


def test_a_lost_database_connection_falls_back_to_django(
    owner_key, alert, django_requests, caplog, persistent_connections
):
    first = call("/api/v1/alerts/", owner_key)
    call("/api/v1/alerts/", owner_key)  # the front's own connection, left open
    backend = connection.connection.info.backend_pid
    with connection.connection.__class__.connect(connection.connection.info.dsn) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (backend,))

    with caplog.at_level(logging.WARNING, logger="cryptomonitor.api_front"):
        again = call("/api/v1/alerts/", owner_key)

    assert again.body == first.body
    assert len(django_requests) == 2
    assert "revalidation failed" in caplog.text


def test_a_connection_past_its_age_is_replaced(
    owner_key, alert, django_requests, persistent_connections
):
    call("/api/v1/alerts/", owner_key)
    call("/api/v1/alerts/", owner_key)
    backend = connection.connection.info.backend_pid
    connection.close_at = time.monotonic() - 1  # CONN_MAX_AGE has passed

    assert call("/api/v1/alerts/", owner_key).code == 200
    assert connection.connection.info.backend_pid != backend
    assert len(django_requests) == 1


def test_an_authorization_header_is_split_as_drf_splits_it(owner_key, alert):
    # A no-break space is not a separator in DRF's byte split: no token there.
    call("/api/v1/alerts/", owner_key)

    answer = call("/api/v1/alerts/", HTTP_AUTHORIZATION=f"Token\xa0{owner_key}")

    assert answer.code == 401


def test_headers_django_does_not_read_share_one_page(coins, django_requests):
    call("/api/v1/coins/", HTTP_ACCEPT_LANGUAGE="de", HTTP_X_FORWARDED_HOST="a.example")
    call("/api/v1/coins/", HTTP_ACCEPT_LANGUAGE="fr", HTTP_X_FORWARDED_HOST="b.example")

    assert len(django_requests) == 1
    assert len(PAGES) == 1


def test_the_front_keeps_at_most_the_configured_pages(coins, settings):
    settings.CACHES = {
        **settings.CACHES,
        "api": {**settings.CACHES["api"], "OPTIONS": {"MAX_ENTRIES": 2}},
    }
    for page in (1, 2, 3):
        call(f"/api/v1/coins/?page_size=1&page={page}")

    assert len(PAGES) == 2


def test_turning_the_cache_off_turns_the_front_off(coins, settings, django_requests):
    settings.API_RESPONSE_CACHE = False
    call("/api/v1/coins/")
    call("/api/v1/coins/")

    assert len(django_requests) == 2


def offering_app(headers):
    """A stand-in for Django that offers every page it answers."""

    def app(environ, start_response):
        offer: Offer = environ[OFFER]
        offer.validator_sql, offer.validator = "SELECT 1, 1", "1:1"
        start_response("200 OK", headers)
        return [b"page"]

    return app


def test_a_page_that_sets_a_cookie_is_never_replayed():
    front = ApiFront(offering_app([("Content-Type", "text/plain"), ("Set-Cookie", "a=b")]))
    call("/api/v1/coins/", app=front)

    assert len(PAGES) == 0


def test_a_page_without_cookies_is_kept():
    front = ApiFront(offering_app([("Content-Type", "text/plain")]))
    call("/api/v1/coins/", app=front)

    assert len(PAGES) == 1
