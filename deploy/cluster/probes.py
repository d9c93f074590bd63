"""Readiness probes: each answers None when its service is ready, else what is wrong.

They run on a thread inside a test host's network namespace (netns.InNamespace),
normally `clients`, so each one crosses the bridge as a real client would.
"""

from __future__ import annotations

import re
import smtplib
import socket
from collections.abc import Collection
from pathlib import Path

import httpx
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

TIMEOUT_SECONDS = 2.0


def tcp(address: str, port: int) -> str | None:
    try:
        socket.create_connection((address, port), timeout=TIMEOUT_SECONDS).close()
    except OSError as exc:
        return f"TCP {address}:{port}: {exc}"
    return None


def http(url: str, statuses: Collection[int] = (200,)) -> str | None:
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return f"GET {url}: {type(exc).__name__}: {exc}"
    if response.status_code not in statuses:
        return f"GET {url}: {response.status_code} {response.text[:300]}"
    return None


def feed(address: str, port: int) -> str | None:
    """The fake CoinGecko answers its /ping."""
    return http(f"http://{address}:{port}/api/v3/ping")


def django_up(url: str) -> str | None:
    """The app answers /healthz with its database and Redis reachable (the feed may lag)."""
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS)
        report = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"GET {url}: {type(exc).__name__}: {exc}"
    down = [part for part in ("database", "redis") if not report.get(part, {}).get("ok")]
    if down:
        return f"GET {url}: {response.status_code}, {' and '.join(down)} not ok"
    return None


def redis_ping(address: str, port: int) -> str | None:
    # One try: redis-py's default retries would make a probe of a cut host
    # take most of a minute instead of answering within its timeout.
    client = redis.Redis(
        host=address,
        port=port,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis {address}:{port}: {exc}"
    finally:
        client.close()
    return None


def smtp(address: str, port: int) -> str | None:
    try:
        with smtplib.SMTP(address, port, timeout=TIMEOUT_SECONDS) as server:
            code, _ = server.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return f"SMTP {address}:{port}: {exc}"
    return None if code == 250 else f"SMTP {address}:{port}: NOOP answered {code}"


def log_line(path: Path, pattern: str, since: int = 0) -> str | None:
    """`pattern` appears in the log after byte offset `since` (this start's lines)."""
    try:
        with path.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
    except FileNotFoundError:
        return f"no log yet at {path}"
    return None if re.search(pattern, text) else f"no line matching {pattern!r} in {path.name}"
