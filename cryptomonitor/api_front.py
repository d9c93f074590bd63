"""Repeated API list requests answered in front of Django, revalidated on every request.

A cached list page (cryptomonitor.api_cache) still costs a whole trip through
Django and DRF: middleware, routing, authentication, throttles, rendering the
response, about 0.9 ms of CPU. Most of that rebuilds what the previous
identical request already knew. `ApiFront` wraps the WSGI application
(cryptomonitor/wsgi.py): when the view has just answered a request, it offers
the page (`offer`); the front keeps the exact response (status, headers,
body) with what it was valid for, and answers the next identical request
itself after checking, as Django would have:

- the caller: the same personal token (by the SHA-256 of its key), still not
  revoked, of the same active user, used within the last minute (otherwise
  Django's path records the use), or anonymous;
- the rows: the page's validator query gives the same digest (any committed
  write changes it: see api_cache);
- the throttles: the request is counted by ApiThrottles itself, with the same
  windows; over a limit, Django answers the 429 without counting it again.

The caller's token and the validator are read in ONE prepared statement,
the throttle counters in one Redis round trip.

Only requests that depend on nothing else are answered here: GET without
cookies (a browser's session requests go through Django), no Authorization
header or a `Token`/`Bearer` one, and a page the view produced with token or
no authentication, ApiThrottles alone, AllowAny or IsAuthenticated
permissions, the site's time zone, and no Set-Cookie. Everything the page's
text depends on in the request (path, query, host, scheme, Accept headers)
is part of its key. Anything unexpected while revalidating (a database
error, say) falls back to Django, which answers as it always does.

Pages are kept per process, at most API_RESPONSE_CACHE_MAX_ENTRIES, the
oldest dropped first; API_RESPONSE_CACHE=False turns this off with the
view-level cache.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.utils import timezone

from cryptomonitor import prepared

logger = logging.getLogger(__name__)

# WSGI environ key of the Offer a request carries through Django.
OFFER = "cryptomonitor.api_front.offer"

TOKEN_KEYWORDS = ("token", "bearer")  # accounts.authentication.KEYWORDS

# What a page's text can depend on in the request besides its path and query:
# the host and scheme of the pagination links and content negotiation. Headers
# Django reads only under a setting join the key only with it (see _page_key):
# a header nothing reads would let any client churn the pages.
_KEY_HEADERS = (
    "SCRIPT_NAME",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
    "HTTP_ACCEPT",
)
LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"
# Warn about a failed revalidation at most this often (a database outage would
# otherwise log a traceback per request on top of Django's own errors).
WARNING_INTERVAL_SECONDS = 60.0


@dataclass
class Offer:
    """What the view says about the page it answered (filled by `offer`)."""

    validator_sql: str = ""
    validator_params: tuple = ()
    validator: str | None = None
    token_id: int | None = None
    user_id: int | None = None
    throttle_scope: str | None = None


@dataclass(frozen=True)
class Page:
    """A response as Django sent it, and what it stays valid for."""

    offer: Offer
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)


class Pages:
    """The process's pages by request key: at most `limit`, oldest dropped first."""

    def __init__(self) -> None:
        self._pages: dict[tuple, Page] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Page | None:
        return self._pages.get(key)

    def put(self, key: tuple, page: Page, limit: int) -> None:
        with self._lock:
            self._pages.pop(key, None)
            self._pages[key] = page
            while len(self._pages) > limit:
                del self._pages[next(iter(self._pages))]

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)


PAGES = Pages()


def offer(request, view, query, validator: str) -> None:
    """Offer the page the view is answering to the front, when the front may repeat it.

    `request` is DRF's; `query` the page's api_cache.ValidatorQuery and
    `validator` what it read. Does nothing for requests that did not come
    through ApiFront or that depend on more than the front checks.
    """
    page_offer = request.META.get(OFFER)
    if page_offer is None:
        return
    from rest_framework.permissions import AllowAny, IsAuthenticated

    from accounts.authentication import ApiTokenAuthentication
    from cryptomonitor.api_throttling import ApiThrottles

    authenticator = request.successful_authenticator
    if authenticator is not None and not isinstance(authenticator, ApiTokenAuthentication):
        return
    if [type(throttle) for throttle in view.get_throttles()] != [ApiThrottles]:
        return
    if any(type(p) not in (AllowAny, IsAuthenticated) for p in view.get_permissions()):
        return
    if timezone.get_current_timezone_name() != timezone.get_default_timezone_name():
        return
    page_offer.validator_sql = query.sql
    page_offer.validator_params = query.params
    page_offer.validator = validator
    page_offer.token_id = request.auth.pk if authenticator is not None else None
    page_offer.user_id = request.user.pk if authenticator is not None else None
    page_offer.throttle_scope = getattr(view, "throttle_scope", None)


class ApiFront:
    """WSGI middleware: answer a repeated API list request with the page kept for it."""

    def __init__(self, application) -> None:
        self.application = application
        self._warned_at = -WARNING_INTERVAL_SECONDS

    def __call__(self, environ: dict, start_response):
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or "HTTP_COOKIE" in environ
            or not settings.API_RESPONSE_CACHE
            # CommonMiddleware refuses these by User-Agent, which is not in the key.
            or settings.DISALLOWED_USER_AGENTS
        ):
            return self.application(environ, start_response)
        key_hash = _caller(environ)
        if key_hash is False:
            return self.application(environ, start_response)
        key = _page_key(environ, key_hash)
        page = PAGES.get(key)
        if page is not None and self._still_valid(page, key_hash, environ):
            start_response(page.status, list(page.headers))
            return [page.body]
        return self._through_django(environ, start_response, key)

    def _still_valid(self, page: Page, key_hash: str | None, environ: dict) -> bool:
        """Whether Django would answer this request with `page` now (and count it)."""
        try:
            return self._check(page, key_hash, environ)
        except Exception:  # noqa: BLE001 - anything unexpected: Django answers
            # Django answers next, on this thread: its request_started checks
            # the connection (CONN_HEALTH_CHECKS) and replaces a broken one.
            now = time.monotonic()
            if now - self._warned_at >= WARNING_INTERVAL_SECONDS:
                self._warned_at = now
                logger.warning("api front: revalidation failed; Django answers", exc_info=True)
            else:
                logger.debug("api front: revalidation failed; Django answers", exc_info=True)
            return False

    def _check(self, page: Page, key_hash: str | None, environ: dict) -> bool:
        row = _read_state(page.offer, key_hash)
        if row is None:
            return False
        from accounts.authentication import used_recently
        from cryptomonitor.api_cache import validator_text

        if validator_text(row[:2]) != page.offer.validator:
            return False
        if key_hash is None:
            user = AnonymousUser()
        else:
            token_id, user_id, last_used_at, is_active = row[2:]
            if (
                token_id != page.offer.token_id
                or user_id != page.offer.user_id
                or not is_active
                or not used_recently(last_used_at, timezone.now())
            ):
                return False
            user = SimpleNamespace(pk=user_id, is_authenticated=True)
        return _count_throttles(environ, user, page.offer.throttle_scope)

    def _through_django(self, environ: dict, start_response, key: tuple):
        """Let Django answer; keep its response when the view offered the page."""
        page_offer = environ[OFFER] = Offer()
        sent: list = []

        def record_start(status, headers, exc_info=None):
            sent[:] = [status, headers]
            return start_response(status, headers, exc_info)

        response = self.application(environ, record_start)
        if page_offer.validator is None or not sent or not sent[0].startswith("200 "):
            return response
        status, headers = sent
        if any(name.lower() == "set-cookie" for name, _ in headers):
            return response  # never replay a cookie to another caller
        try:
            body = b"".join(response)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()  # Django's request_finished
        page = Page(page_offer, status, tuple(headers), body)
        # 300: LocMemCache's own default, where CACHES["api"] sets none.
        limit = settings.CACHES.get("api", {}).get("OPTIONS", {}).get("MAX_ENTRIES", 300)
        PAGES.put(key, page, limit)
        return [body]


def _caller(environ: dict) -> str | None | bool:
    """The SHA-256 of a token caller's key, None for a visitor, False: Django decides.

    Parsed as DRF's get_authorization_header().split() does: the header's
    bytes, split on ASCII whitespace only, the key decoded as UTF-8.
    """
    header = environ.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    try:
        parts = header.encode("latin-1").split()
        keyword = parts[0].lower().decode() if parts else ""
        key = parts[1].decode() if len(parts) == 2 else None
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    if keyword not in TOKEN_KEYWORDS or key is None:
        return False
    from accounts.models import ApiToken

    return ApiToken.hash_key(key)


def _page_key(environ: dict, key_hash: str | None) -> tuple:
    """Everything in the request the page's text and its checks depend on."""
    get = environ.get
    key = (get("PATH_INFO"), get("QUERY_STRING", ""), key_hash, *map(get, _KEY_HEADERS))
    if settings.SECURE_PROXY_SSL_HEADER:  # the scheme, behind a proxy
        key += (get(settings.SECURE_PROXY_SSL_HEADER[0]),)
    if settings.USE_X_FORWARDED_HOST:
        key += (get("HTTP_X_FORWARDED_HOST"),)
    if settings.USE_X_FORWARDED_PORT:
        key += (get("HTTP_X_FORWARDED_PORT"),)
    if LOCALE_MIDDLEWARE in settings.MIDDLEWARE:
        key += (get("HTTP_ACCEPT_LANGUAGE"),)
    return key


def _read_state(page_offer: Offer, key_hash: str | None) -> tuple | None:
    """The validator's (count, digest), then for a token its state, in one prepared statement."""
    from accounts.authentication import token_state_query

    # Django's own lifecycle rules for this thread's connection (CONN_MAX_AGE,
    # errors seen): Django's request signals never run for the front's answers.
    connection.close_if_unusable_or_obsolete()

    sql, params = page_offer.validator_sql, page_offer.validator_params
    if key_hash is not None:
        # The validator always gives one row; the token's may be missing.
        sql = f"SELECT v.*, k.* FROM ({sql}) v LEFT JOIN ({token_state_query()}) k ON TRUE"  # noqa: S608
        params = (*params, key_hash)
    if connection.in_atomic_block:
        return None
    # Planned once per connection (cryptomonitor.prepared), like the view's own queries.
    return prepared.fetchone(prepared.statement_name(sql), sql, params, bare=True)


def _count_throttles(environ: dict, user, throttle_scope: str | None) -> bool:
    """Count the request with ApiThrottles as the view would; False when over a limit.

    Over a limit, the count is handed to Django (COUNTED_OVER_LIMIT), which
    answers the 429 with its Retry-After.
    """
    from cryptomonitor.api_throttling import COUNTED_OVER_LIMIT, ApiThrottles

    throttles = ApiThrottles()
    request = SimpleNamespace(META=environ, headers=_EnvironHeaders(environ), user=user)
    if throttles.allow_request(request, SimpleNamespace(throttle_scope=throttle_scope)):
        return True
    environ[COUNTED_OVER_LIMIT] = throttles.wait_seconds
    return False


class _EnvironHeaders:
    """request.headers.get() over a WSGI environ, for DRF's get_ident (X-Forwarded-For).

    Django's HttpHeaders copies every header first: a fifth of a front answer's CPU.
    """

    def __init__(self, environ: dict) -> None:
        self._environ = environ

    def get(self, name: str, default=None):
        return self._environ.get("HTTP_" + name.upper().replace("-", "_"), default)
