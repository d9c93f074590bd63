"""Wait until the database and Redis answer, so no container starts half-connected.

Run by docker/entrypoint.sh before anything else. Exits 0 as soon as both
answer; after WAIT_FOR_SERVICES_SECONDS (default 60) exits 1 with one line per
service that still does not.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import django


def database_problem() -> str | None:
    from django.db import connection

    try:
        connection.ensure_connection()
    except Exception as exc:  # noqa: BLE001 (any driver error means "not yet")
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    finally:
        connection.close()
    return None


def redis_problem() -> str | None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc)
    finally:
        client.close()
    return None


def wait(checks: dict[str, Callable[[], str | None]], seconds: float) -> dict[str, str]:
    """Poll every check until all pass or time runs out; return what still fails."""
    deadline = time.monotonic() + seconds
    while True:
        problems = {name: problem for name, check in checks.items() if (problem := check())}
        if not problems or time.monotonic() >= deadline:
            return problems
        time.sleep(1)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptomonitor.settings")
    django.setup()
    seconds = float(os.environ.get("WAIT_FOR_SERVICES_SECONDS", "60"))
    problems = wait({"database": database_problem, "redis": redis_problem}, seconds)
    for name, problem in problems.items():
        print(
            f"wait_for_services: {name} still unreachable after {seconds:g} s: {problem}",
            file=sys.stderr,
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
