"""/healthz: is the database up, is Redis up, is the price feed fresh?

Polled by Docker, load balancers and the smoke test, so it costs one
trivial query, one FeedState read and one Redis PING. Any failing part
answers 503 with the reason in the body.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from prices.models import FeedState

_redis_clients: dict[str, redis.Redis] = {}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _check(_ping_database)
    report = {
        "database": database,
        "redis": _check(_ping_redis),
        "feed": _feed_status() if database["ok"] else {"ok": False, "error": "no database"},
    }
    healthy = report["database"]["ok"] and report["redis"]["ok"] and report["feed"]["ok"]
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **report}, status=200 if healthy else 503
    )


def _check(ping) -> dict:
    try:
        ping()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
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
