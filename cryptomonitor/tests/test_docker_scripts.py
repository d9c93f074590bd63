"""The scripts the containers run, run here as Docker would run them: as processes.

docker/wait_for_services.py against the real test PostgreSQL and Redis, and
docker/healthcheck.py against the real /healthz view and small local servers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scripts.local_stack import free_port

BASE_DIR = Path(__file__).resolve().parents[2]


def run_script(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, f"docker/{script}", *args],
        env=dict(os.environ) | {"PYTHONPATH": str(BASE_DIR)} | env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
    )


def wait_for_services(database_url: str, redis_url: str) -> subprocess.CompletedProcess:
    return run_script(
        "wait_for_services.py",
        DJANGO_SETTINGS_MODULE="cryptomonitor.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        WAIT_FOR_SERVICES_SECONDS="0",
    )


def test_wait_for_services_passes_when_both_answer(settings) -> None:
    # The server's maintenance database: the test database may not exist yet.
    server = urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres").geturl()

    result = wait_for_services(server, settings.REDIS_URL)

    assert (result.returncode, result.stderr) == (0, "")


def test_wait_for_services_names_each_unreachable_service() -> None:
    result = wait_for_services("postgres://postgres@127.0.0.1:1/nothing", "redis://127.0.0.1:1/0")

    assert result.returncode == 1
    assert "database still unreachable" in result.stderr
    assert "redis still unreachable" in result.stderr


@pytest.fixture
def answering() -> Iterator[callable]:
    """Start a local server answering every GET with the given status and body."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, body: bytes) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/healthz"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def report(database: bool, redis: bool, feed: bool) -> bytes:
    return json.dumps(
        {
            "status": "ok" if database and redis and feed else "degraded",
            "database": {"ok": database},
            "redis": {"ok": redis},
            "feed": {"ok": feed, "stale": not feed},
        }
    ).encode()


def test_the_health_check_passes_a_healthy_server(answering) -> None:
    url = answering(200, report(True, True, True))

    assert run_script("healthcheck.py", url).returncode == 0


def test_the_health_check_passes_a_server_whose_feed_is_stale(answering) -> None:
    url = answering(503, report(True, True, False))

    result = run_script("healthcheck.py", url)

    assert result.returncode == 0
    assert "price feed degraded" in result.stdout


@pytest.mark.parametrize(("database", "redis"), [(False, True), (True, False)])
def test_the_health_check_fails_when_a_store_is_down(answering, database, redis) -> None:
    url = answering(503, report(database, redis, True))

    assert run_script("healthcheck.py", url).returncode == 1


def test_the_health_check_fails_on_an_error_page(answering) -> None:
    url = answering(500, b"<h1>Server Error</h1>")

    result = run_script("healthcheck.py", url)

    assert result.returncode == 1
    assert "without a health report" in result.stdout


def test_the_health_check_fails_when_nothing_listens() -> None:
    result = run_script("healthcheck.py", f"http://127.0.0.1:{free_port()}/healthz")

    assert result.returncode == 1
    assert "no answer" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_the_health_check_understands_the_real_healthz(live_server) -> None:
    # No poll has happened in the test database: the feed is stale, the
    # database and Redis answer, so the web container counts as healthy.
    result = run_script("healthcheck.py", f"{live_server.url}/healthz")

    assert result.returncode == 0
    assert "price feed degraded" in result.stdout
