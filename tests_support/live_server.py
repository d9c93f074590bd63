"""A real daphne serving cryptomonitor.asgi for live-server and browser tests.

Usage in a test module (the root conftest.py loads this module as a pytest
plugin, so the fixture needs no import)::

    @pytest.mark.django_db(transaction=True)
    def test_something(live_daphne):
        httpx.get(f"{live_daphne.http_url}/healthz")

The daphne child uses tests_support.settings, the pytest test database
(so it needs `transaction=True`: it only sees committed rows) and the same
TEST_REDIS_URL, so its channel layer is the one the test publishes on. It
binds 127.0.0.1 on a port the kernel picks and is stopped after the test
(`module_daphne`: after the module).
bench/fanout.py starts its servers with `running_daphne()` too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"Listening on TCP address 127\.0\.0\.1:(\d+)")
START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class LiveServer:
    port: int
    pid: int
    log_path: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def current_database_url() -> str:
    """The URL of the database pytest-django is using right now (test_<name>)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{db.get('USER') or 'postgres'}{password}@{host}:{port}/{db['NAME']}"


@contextmanager
def running_daphne(
    env: Mapping[str, str] | None = None, *, access_log: bool = True, port: int = 0
) -> Iterator[LiveServer]:
    """Start daphne on a free 127.0.0.1 port; yield once it listens; stop it after.

    `access_log=False` drops the per-request lines (benchmarks open thousands).
    `port` restarts a server where browsers expect it (reconnect tests).
    """
    child_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests_support.settings",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with tempfile.NamedTemporaryFile(prefix="daphne-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
        process = subprocess.Popen(  # noqa: S603 (a fixed argv, no shell)
            [
                sys.executable,
                "-m",
                "daphne",
                "-e",
                # A long accept queue: benchmarks open thousands of sockets at once.
                f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
                "-v",
                "1",
                *([] if access_log else ["--access-log", os.devnull]),
                "cryptomonitor.asgi:application",
            ],
            cwd=BASE_DIR,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield LiveServer(port=_wait_for_port(process, log_path), pid=process.pid, log_path=log_path)
    finally:
        _stop(process)
        log_path.unlink(missing_ok=True)


def _wait_for_port(process: subprocess.Popen, log_path: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = LISTENING.search(log_path.read_text(errors="replace"))
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"daphne did not start:\n{log_path.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def live_daphne(transactional_db) -> Iterator[LiveServer]:
    """A daphne child process serving the app on the test database and Redis."""
    with running_daphne({"TEST_DATABASE_URL": current_database_url()}) as server:
        yield server


@pytest.fixture(scope="module")
def module_daphne(django_db_setup) -> Iterator[LiveServer]:
    """One daphne for a whole module (its start costs a second or two of the test run).

    For tests that keep no state in the server's process: their rows are
    committed and flushed after each test (ask for `transactional_db` too),
    and new users and tokens get new ids, so one test's sockets and groups
    never meet the next one's. A module overrides `live_daphne` with it.
    """
    with running_daphne({"TEST_DATABASE_URL": current_database_url()}) as server:
        yield server
