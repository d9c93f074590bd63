"""cryptomonitor.serve_websockets: several real daphne processes on one port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import websockets
from asgiref.sync import async_to_sync

from cryptomonitor.testing.live_server import current_database_url
from cryptomonitor.testing.nginx import free_port, running_process

BASE_DIR = Path(__file__).resolve().parents[2]
CLIENTS = 16

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def launcher(tmp_path) -> Iterator[tuple[subprocess.Popen, int]]:
    """The launcher with two daphne processes on a free port; yields it and the port."""
    port = free_port()
    command = [
        sys.executable, "-m", "cryptomonitor.serve_websockets", "--processes", "2",
        "--host", "127.0.0.1", "--port", str(port), "--proxy-headers",
        "cryptomonitor.asgi:application",
    ]  # fmt: skip
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings_test",
        "TEST_DATABASE_URL": current_database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    popen = {"cwd": BASE_DIR, "env": env}
    with running_process(command, port, tmp_path / "ws.log", **popen) as process:
        yield process, port


def children(process: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(process.pid).children()


def connections_per_process(port: int, daphnes: list[psutil.Process], count: int) -> dict:
    """Open `count` price sockets (each until its snapshot); count each daphne's share."""

    async def one():
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/prices/",
            origin=f"http://127.0.0.1:{port}",
            open_timeout=10,
            proxy=None,
        )
        async with asyncio.timeout(10):
            while json.loads(await ws.recv())["type"] != "snapshot":
                pass
        return ws

    async def many():
        sockets = await asyncio.gather(*(one() for _ in range(count)))
        served = {
            child.pid: sum(
                1
                for connection in child.net_connections(kind="tcp")
                if connection.status == psutil.CONN_ESTABLISHED and connection.laddr.port == port
            )
            for child in daphnes
        }
        await asyncio.gather(*(ws.close() for ws in sockets))
        return served

    return async_to_sync(many)()


def test_every_daphne_process_serves_websockets(launcher):
    process, port = launcher

    served = connections_per_process(port, children(process), CLIENTS)

    assert len(served) == 2
    assert sum(served.values()) == CLIENTS
    assert min(served.values()) > 0, served


def test_sigterm_stops_the_launcher_and_every_daphne(launcher):
    process, _ = launcher
    daphnes = children(process)

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=30) == 0
    assert not any(daphne.is_running() for daphne in daphnes)


def test_a_dead_daphne_stops_the_container(launcher):
    process, _ = launcher
    first, second = children(process)

    first.kill()

    assert process.wait(timeout=30) != 0
    assert not second.is_running()
