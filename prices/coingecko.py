"""The CoinGecko v3 API client: one keep-alive httpx client, retries, validation.

Every failure reaches callers as `prices.quotes.FeedError`, with `retry_after`
set when CoinGecko said how long to wait. Bad values of single coins never
fail a call: they come back as Rejections (markets) or are logged and left
out (charts, catalogue).
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import httpx
from django.conf import settings

from common.tls import tls_context
from prices import metrics
from prices.quotes import FeedError, FetchResult, MarketQuote
from prices.validation import (
    ChartPoint,
    InvalidField,
    shorten,
    text,
    validate_chart,
    validate_exchange_rates,
    validate_market_row,
)

__all__ = ["ChartPoint", "CoinGeckoClient", "FeedError", "RateLimited"]

log = logging.getLogger("prices.coingecko")
P = ParamSpec("P")
R = TypeVar("R")

MARKETS_PAGE_SIZE = 250  # CoinGecko's maximum per_page
KEY_HEADERS = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
# Waiting longer than this inside one call would hold up the poller; it
# skips polls until then instead.
RETRY_AFTER_BUDGET_SECONDS = 5.0
BACKOFF_BASE_SECONDS = 1.0


def _only_feed_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Keep the promise that callers only ever see FeedError, even from a bug."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except FeedError:
            raise
        except Exception as exc:
            log.exception("CoinGecko %s failed unexpectedly", method.__name__)
            raise FeedError(f"CoinGecko {method.__name__}: unexpected {exc!r}") from exc

    return guarded


class RateLimited(FeedError):
    """The call failed because CoinGecko answered 429 (polls count it apart)."""


class _Retryable(Exception):
    """One attempt failed in a way that may pass: why, and what the server asked."""

    def __init__(
        self, reason: str, retry_after: float | None = None, *, rate_limited: bool = False
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class CoinGeckoClient:
    """A CoinGecko client. Use as a context manager, or call close()."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        plan: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        backoff_cap: float | None = None,
        retry_after_budget: float = RETRY_AFTER_BUDGET_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = (base_url or settings.COINGECKO_BASE_URL).rstrip("/")
        self.plan = plan or settings.COINGECKO_API_PLAN
        api_key = settings.COINGECKO_API_KEY if api_key is None else api_key
        timeout = settings.COINGECKO_TIMEOUT_SECONDS if timeout is None else timeout
        self.max_retries = settings.COINGECKO_MAX_RETRIES if max_retries is None else max_retries
        self.backoff_cap = (
            settings.COINGECKO_BACKOFF_CAP_SECONDS if backoff_cap is None else backoff_cap
        )
        self.retry_after_budget = retry_after_budget
        self.sleep = sleep
        headers = {"Accept": "application/json", "User-Agent": "CryptoMonitor/0.1"}
        if api_key and self.plan in KEY_HEADERS:
            headers[KEY_HEADERS[self.plan]] = api_key
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=tls_context(),
        )

    @classmethod
    def from_settings(cls, **overrides: Any) -> CoinGeckoClient:
        return cls(**overrides)

    def __enter__(self) -> CoinGeckoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- endpoints ---------------------------------------------------------------

    def ping(self) -> bool:
        """True when CoinGecko answers /ping; never raises and never retries."""
        try:
            return "gecko_says" in self._ping()
        except FeedError as exc:
            log.info("CoinGecko does not answer /ping: %s", exc)
            return False

    @_only_feed_errors
    def _ping(self) -> dict[str, Any]:
        return self._get("/ping", {}, expect=dict, retries=0)

    @_only_feed_errors
    def fetch_markets(self, ids: list[str], vs_currency: str) -> FetchResult:
        """Validated quotes for `ids`: one /coins/markets request per 250 ids.

        Unknown ids are absent from CoinGecko's answer and so from the result.
        A page that cannot be read does not lose the others: their quotes come
        back with `failure` saying what was missed. Once CoinGecko asks us to
        wait, the pages left are not requested. FeedError when no page was read.
        """
        wanted = list(dict.fromkeys(ids))
        pages = list(_chunks(wanted, MARKETS_PAGE_SIZE))
        result = FetchResult()
        now = datetime.now(UTC)
        failures: dict[int, FeedError] = {}  # page number (from 1) -> its error
        unread: list[str] = []
        for number, chunk in enumerate(pages, start=1):
            if _asked_to_wait(failures.values()):
                unread.extend(chunk)
                continue
            try:
                rows = self._markets_page(chunk, vs_currency)
            except FeedError as exc:
                failures[number] = exc
                unread.extend(chunk)
                log.warning("CoinGecko markets page %d of %d failed: %s", number, len(pages), exc)
                continue
            self._collect(rows, set(chunk), result, now)
        if not failures:
            return result
        # Any page's Retry-After binds the whole feed, whichever page failed first.
        retry_after = _asked_to_wait(failures.values())
        if len(unread) == len(wanted):
            limited = any(isinstance(exc, RateLimited) for exc in failures.values())
            raise (RateLimited if limited else FeedError)(
                _no_page_read(failures, len(pages)), retry_after=retry_after
            )
        first = next(iter(failures.values()))
        result.failure = FeedError(
            f"{len(failures)} of {len(pages)} /coins/markets pages failed, "
            f"{len(unread)} coins not updated: {first}",
            retry_after=retry_after,
        )
        return result

    def _markets_page(self, ids: list[str], vs_currency: str) -> list[Any]:
        return self._get(
            "/coins/markets",
            {
                "vs_currency": vs_currency.lower(),
                "ids": ",".join(ids),
                "order": "market_cap_desc",
                "per_page": MARKETS_PAGE_SIZE,
                "page": 1,
                "sparkline": "false",
                "precision": "full",
            },
            expect=list,
        )

    @_only_feed_errors
    def list_coins(self) -> list[dict[str, str]]:
        """CoinGecko's catalogue: [{"id", "symbol", "name"}]; bad entries are left out."""
        coins = []
        for row in self._get("/coins/list", {}, expect=list):
            try:
                if not isinstance(row, dict):
                    raise InvalidField("entry is not a JSON object")
                coins.append({name: text(row, name) for name in ("id", "symbol", "name")})
            except InvalidField as exc:
                log.warning("Skipped a /coins/list entry %s: %s", shorten(row), exc)
        return coins

    @_only_feed_errors
    def market_chart(self, coin_id: str, vs_currency: str, days: int | str) -> list[ChartPoint]:
        """Validated price history, ascending; CoinGecko picks the granularity from days.

        days=1 gives 5-minute points, 2..90 hourly, more (or "max") daily.
        """
        body = self._get(
            f"/coins/{quote(coin_id, safe='')}/market_chart",
            {"vs_currency": vs_currency.lower(), "days": days},
            expect=dict,
        )
        try:
            points, problems = validate_chart(body)
        except InvalidField as exc:
            raise FeedError(f"market chart of {coin_id}: {exc}") from None
        for problem in problems:
            log.warning("Dropped a market chart point of %s: %s", coin_id, problem)
        return points

    @_only_feed_errors
    def exchange_rates(self) -> dict[str, Decimal]:
        """Units of each currency per 1 BTC (/exchange_rates), by lower-case code.

        One request for every currency CoinGecko knows, whatever we convert
        to; an entry that fails validation is logged and left out.
        """
        body = self._get("/exchange_rates", {}, expect=dict)
        try:
            per_btc, problems = validate_exchange_rates(body)
        except InvalidField as exc:
            raise FeedError(f"CoinGecko /exchange_rates: {exc}") from None
        for problem in problems:
            log.warning("Dropped an exchange rate: %s", problem)
        if not per_btc:
            raise FeedError("CoinGecko /exchange_rates: no usable rate")
        return per_btc

    # --- internals ---------------------------------------------------------------

    def _collect(
        self, rows: list[Any], asked: set[str], result: FetchResult, now: datetime
    ) -> None:
        seen: set[str] = set()
        for row in rows:
            outcome = validate_market_row(row, now=now)
            coin_id = outcome.coingecko_id
            if isinstance(outcome, MarketQuote) and (coin_id not in asked or coin_id in seen):
                log.warning("Ignored %s: not asked for, or twice in one answer", coin_id)
                continue
            seen.add(coin_id)
            target = result.quotes if isinstance(outcome, MarketQuote) else result.rejections
            target.append(outcome)
        missing = asked - seen
        if missing:
            log.info("CoinGecko knows no prices for %s", ", ".join(sorted(missing)))

    def _get(
        self, path: str, params: dict[str, Any], *, expect: type, retries: int | None = None
    ) -> Any:
        """The decoded JSON body of a GET, retried; FeedError when it cannot be had."""
        retries = self.max_retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                return self._attempt(path, params, expect)
            except _Retryable as failure:
                if attempt == retries:
                    raise _give_up(path, failure, attempt + 1) from None
                self._wait_before_retry(path, failure, attempt, retries)
        raise AssertionError("unreachable")

    def _attempt(self, path: str, params: dict[str, Any], expect: type) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException as exc:
            metrics.count_coingecko_request("timeout")
            raise _Retryable(f"timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            metrics.count_coingecko_request("connection_error")
            raise _Retryable(f"connection failed ({type(exc).__name__}: {exc})") from None
        status = response.status_code
        metrics.count_coingecko_request(status)
        if status == 429 or status >= 500:
            retry_after = _retry_after_seconds(response.headers.get("retry-after"))
            if retry_after is not None and retry_after > self.retry_after_budget:
                raise (RateLimited if status == 429 else FeedError)(
                    f"CoinGecko {path}: HTTP {status}, asked to wait {retry_after:.0f} s",
                    retry_after=timedelta(seconds=retry_after),
                )
            what = "rate limited (HTTP 429)" if status == 429 else f"HTTP {status}"
            raise _Retryable(what, retry_after, rate_limited=status == 429)
        if status >= 400:
            hint = (
                " (check COINGECKO_API_KEY and COINGECKO_API_PLAN)" if status in (401, 403) else ""
            )
            raise FeedError(f"CoinGecko {path}: HTTP {status}{hint}: {shorten(response.text)}")
        try:
            body = json.loads(response.content, parse_float=Decimal, parse_constant=Decimal)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            raise _Retryable(f"malformed or truncated JSON ({exc})") from None
        if not isinstance(body, expect):
            raise _Retryable(f"expected a JSON {expect.__name__}, got {shorten(body)}")
        return body

    def _wait_before_retry(
        self, path: str, failure: _Retryable, attempt: int, retries: int
    ) -> None:
        if failure.retry_after is not None:
            delay = failure.retry_after
        else:
            # Full jitter: spread clients out instead of retrying in lockstep.
            ceiling = min(self.backoff_cap, BACKOFF_BASE_SECONDS * 2**attempt)
            delay = random.uniform(0, ceiling)  # noqa: S311 - not cryptographic
        log.warning(
            "CoinGecko %s: %s; retry %d of %d in %.2f s", path, failure, attempt + 1, retries, delay
        )
        self.sleep(delay)


@functools.cache
def _give_up(path: str, failure: _Retryable, attempts: int) -> FeedError:
    retry_after = None if failure.retry_after is None else timedelta(seconds=failure.retry_after)
    plural = "s" if attempts > 1 else ""
    return (RateLimited if failure.rate_limited else FeedError)(
        f"CoinGecko {path}: {failure} ({attempts} attempt{plural})", retry_after=retry_after
    )


def _retry_after_seconds(header: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if unusable."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        at = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        return None
    return max((at - datetime.now(UTC)).total_seconds(), 0.0)


def _asked_to_wait(failures: Iterable[FeedError]) -> timedelta | None:
    """The longest wait any of `failures` asked for, or None when none did."""
    waits = [exc.retry_after for exc in failures if exc.retry_after is not None]
    return max(waits, default=None)


def _no_page_read(failures: dict[int, FeedError], pages: int) -> str:
    """Name every failed page with its error, and the pages left unrequested."""
    text = "no /coins/markets page could be read: " + "; ".join(
        f"page {number} of {pages}: {exc}" for number, exc in failures.items()
    )
    skipped = pages - len(failures)
    if skipped:
        text += f"; {skipped} more not requested while CoinGecko asks us to wait"
    return text


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
