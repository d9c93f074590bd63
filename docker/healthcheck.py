"""Docker health check of the web container: does /healthz show a working server?

Healthy when /healthz answers 200, or 503 with the database and Redis both ok:
a stale price feed is the worker's and beat's trouble, not the web server's,
and since worker and beat only start once web is healthy, counting the feed
here would keep the feed from ever starting. Exit 0 healthy, 1 not.

Usage: python docker/healthcheck.py http://127.0.0.1:8000/healthz
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


def probe(url: str, timeout: float = 4.0) -> tuple[bool, str]:
    """Whether the web server is healthy, and a line saying why."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except (OSError, ValueError) as error:
        return False, f"no answer from {url}: {error}"
    if status == 200:
        return True, "healthy"
    try:
        report = json.loads(body)
        parts_ok = report["database"]["ok"] is True and report["redis"]["ok"] is True
    except (ValueError, KeyError, TypeError):
        return False, f"HTTP {status} without a health report"
    if status == 503 and parts_ok:
        return True, "serving; price feed degraded: " + json.dumps(report.get("feed"))
    return False, f"HTTP {status}: {body[:300].decode(errors='replace')}"


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "http://127.0.0.1:8000/healthz"
    healthy, reason = probe(url)
    print(reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
