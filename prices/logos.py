"""Coin logos: CoinGecko's image of each tracked coin, downloaded once, served by us.

Pages never hotlink CoinGecko's CDN: a worker task downloads each tracked
coin's image once per image URL (`refresh_logos`), the database keeps it
(CoinLogo) and `prices.logo_views` serves it, so the Content-Security-Policy
needs no outside image host. The poll only asks for the task, after its
transaction commits (`request_refresh`): no download ever holds a poll.

Only what CoinGecko's image hosts send is taken (COIN_LOGO_ORIGINS, matched
exactly: scheme, host and port), one request, no redirect, no proxy, at most
COIN_LOGO_MAX_BYTES within COIN_LOGO_TIMEOUT_SECONDS, declared as PNG, JPEG,
WebP or GIF and starting with that format's signature (no SVG: it can carry
script).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from common.tls import tls_context
from prices.models import Coin, CoinLogo

log = logging.getLogger("prices.logos")

TASK_NAME = "prices.tasks.fetch_coin_logos"
# Set while a refresh is queued or running, so polls ask for one at a time.
REFRESH_KEY = "prices:logo-refresh-requested"
REFRESH_KEY_SECONDS = 600
# Coins one task downloads at most: it holds one slot of the default queue's
# worker, beside polls and evaluation; the next poll asks for the rest.
LOGOS_PER_TASK = 25
# A failed download (CoinGecko's image host down, a timeout, a refused file)
# is tried again this long after, so one hiccup does not leave the letter for
# good, and a host that stays down costs one request a coin every few hours.
RETRY_FAILED_AFTER = timedelta(hours=6)

# Accepted Content-Type -> the signatures its bytes must start with.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


class LogoRefused(Exception):
    """An image URL or answer we do not take, and why."""


@dataclass
class LogoRefresh:
    stored: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def origin_refusal(url: str) -> str | None:
    """Why `url` may not be downloaded from, or None: only COIN_LOGO_ORIGINS."""
    try:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
    except ValueError:
        return "not a URL"
    if parts.scheme != "https" and origin not in settings.COIN_LOGO_ORIGINS:
        return f"not https ({parts.scheme or 'no scheme'})"
    if origin not in settings.COIN_LOGO_ORIGINS or parts.username or parts.password:
        return f"{parts.hostname or 'no host'} is not one of CoinGecko's image hosts"
    return None


def image_type(content_type: str, head: bytes) -> str:
    """The image's type when the declared type is accepted and the bytes match it."""
    declared = content_type.split(";")[0].strip().lower()
    if declared not in SIGNATURES:
        raise LogoRefused(f"content type {declared or 'missing'} is not PNG, JPEG, WebP or GIF")
    if not head.startswith(SIGNATURES[declared]) or (
        declared == "image/webp" and head[8:12] != b"WEBP"
    ):
        raise LogoRefused(f"the bytes are not a {declared} image")
    return declared


def download(url: str, client: httpx.Client) -> tuple[bytes, str]:
    """The image at `url` and its type; LogoRefused for anything else."""
    if reason := origin_refusal(url):
        raise LogoRefused(reason)
    limit = settings.COIN_LOGO_MAX_BYTES
    deadline = time.monotonic() + settings.COIN_LOGO_TIMEOUT_SECONDS
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise LogoRefused(f"HTTP {response.status_code}")
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                raise LogoRefused(f"{length} bytes, more than {limit}")
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > limit:
                    raise LogoRefused(f"more than {limit} bytes")
                if time.monotonic() > deadline:
                    raise LogoRefused("too slow")
            kind = image_type(response.headers.get("content-type", ""), bytes(body[:16]))
    except httpx.HTTPError as exc:
        raise LogoRefused(f"download failed ({type(exc).__name__})") from None
    return bytes(body), kind


def coins_needing_logos() -> QuerySet[Coin]:
    """Tracked coins whose image URL was never tried (new, or changed since),
    or whose last try failed more than RETRY_FAILED_AFTER ago."""
    never_tried = ~Q(logo__source_url=F("image_url"))
    failed_long_ago = Q(logo_digest="", logo__attempted_at__lt=timezone.now() - RETRY_FAILED_AFTER)
    return (
        Coin.objects.filter(is_tracked=True)
        .exclude(image_url="")
        .filter(never_tried | failed_long_ago)
    )


def coins_without_logos() -> QuerySet[Coin]:
    """Tracked coins with an image URL and no stored logo (never tried, or failed)."""
    return Coin.objects.filter(is_tracked=True).exclude(image_url="").filter(logo_digest="")


def refresh_logos(coins: QuerySet[Coin] | None = None, limit: int | None = None) -> LogoRefresh:
    """Download the logo of each coin in `coins` (default: coins_needing_logos()).

    The `limit` best-ranked ones only, when given. Runs outside any
    transaction: each coin's outcome is saved on its own.
    """
    outcome = LogoRefresh()
    coins = (coins_needing_logos() if coins is None else coins).order_by(
        "market_cap_rank", "coingecko_id"
    )
    with _client() as client:
        for coin in coins[:limit] if limit else coins:
            url = coin.image_url
            try:
                data, kind = download(url, client)
            except LogoRefused as exc:
                log.warning("Refused the logo of %s from %s: %s", coin.coingecko_id, url, exc)
                _save_failure(coin, url, str(exc))
                outcome.failed[coin.coingecko_id] = str(exc)
                continue
            _save_logo(coin, url, data, kind)
            outcome.stored.append(coin.coingecko_id)
    return outcome


def request_refresh() -> None:
    """Queue one logo refresh if a tracked coin has a new image URL; never raise.

    Called by the poll once its transaction has committed: one small query,
    then the task is sent by name (prices.tasks wraps the poll).
    """
    try:
        if coins_needing_logos().exists() and cache.add(
            REFRESH_KEY, 1, timeout=REFRESH_KEY_SECONDS
        ):
            current_app.send_task(TASK_NAME)
    except Exception:
        log.warning("Could not queue the coin logo refresh", exc_info=True)


def refresh_done() -> None:
    cache.delete(REFRESH_KEY)


def _client() -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(settings.COIN_LOGO_TIMEOUT_SECONDS),
        follow_redirects=False,
        trust_env=False,
        verify=tls_context(),
        headers={"User-Agent": "CryptoMonitor/0.1", "Accept-Encoding": "identity"},
    )


def _save_logo(coin: Coin, url: str, data: bytes, kind: str) -> None:
    with transaction.atomic():
        CoinLogo.objects.update_or_create(
            coin=coin,
            defaults={
                "source_url": url,
                "attempted_at": timezone.now(),
                "error": "",
                "content_type": kind,
                "data": data,
            },
        )
        Coin.objects.filter(pk=coin.pk).update(logo_digest=hashlib.sha256(data).hexdigest())


def _save_failure(coin: Coin, url: str, error: str) -> None:
    CoinLogo.objects.update_or_create(
        coin=coin,
        defaults={"source_url": url, "attempted_at": timezone.now(), "error": error[:500]},
    )
