"""/healthz: is the database up, is Redis up, is the price feed fresh?

Polled by Docker, load balancers and the smoke test, so it costs one
trivial query, one FeedState read and one Redis PING. Any failing part
answers 503.

Anyone may call it, so it shows states only (ok or not per part, whether the
feed is stale): exception texts name hosts, ports and database errors, and
the feed's last error can hold a provider's reply. Those go to the log, and
to staff signed in to the site, who see the full report.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from prices.models import FeedState

log = logging.getLogger(__name__)

_redis_clients: dict[str, redis.Redis] = {}

# What a visitor sees of the feed: its state, nothing it last heard.
PUBLIC_FEED_FIELDS = ("ok", "stale", "source", "simulated", "seconds_since_success")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _check("database", _ping_database)
    report = {
        "database": database,
        "redis": _check("redis", _ping_redis),
        "feed": _feed_status() if database["ok"] else {"ok": False, "error": "no database"},
    }
    healthy = all(part["ok"] for part in report.values())
    if not _may_see_details(request):
        report = {
            "database": {"ok": report["database"]["ok"]},
            "redis": {"ok": report["redis"]["ok"]},
            "feed": {name: report["feed"].get(name) for name in PUBLIC_FEED_FIELDS},
        }
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **report}, status=200 if healthy else 503
    )


def _may_see_details(request: HttpRequest) -> bool:
    # Checked only after the parts: the user lookup needs the database.
    try:
        return request.user.is_staff
    except Exception:  # noqa: BLE001 (the database is down: no session to trust)
        return False


def _check(part: str, ping) -> dict:
    try:
        ping()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        log.warning("Health check: %s is down: %s", part, error)
        return {"ok": False, "error": error}
    return {"ok": True, "error": None}


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_redis() -> None:
    url = settings.REDIS_URL
    if url not in _redis_clients:
        # One pooled client per URL: a health probe must not open a socket per call.
        _redis_clients[url] = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    _redis_clients[url].ping()


def _feed_status() -> dict:
    state = FeedState.observed()
    seconds = state.seconds_since_success()
    stale = state.is_stale()
    return {
        "ok": not stale,
        "source": state.name,
        "simulated": state.name == "simulated",
        "last_success_at": state.last_success_at.isoformat() if state.last_success_at else None,
        "seconds_since_success": None if seconds is None else round(seconds, 1),
        "consecutive_failures": state.consecutive_failures,
        "last_error": state.last_error or None,
        "stale": stale,
    }
