"""What one WebSocket may cost a real daphne (cryptomonitor/websocket_protocol.py).

Straight at daphne, without nginx in front: its per-address limits are
tested in cryptomonitor/tests/test_nginx_proxy.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from websockets.frames import Close

from cryptomonitor.testing.live_server import LiveServer, current_database_url, running_daphne
from prices.tests.socket_flood import (
    connect,
    flood,
    messages_until_closed,
    open_without_reading,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0


def url_and_origin(server: LiveServer) -> tuple[str, str]:
    return f"{server.ws_url}/ws/prices/", f"http://127.0.0.1:{server.port}"


def test_ten_flooding_sockets_cost_daphne_under_50_mib_and_newcomers_still_get_a_snapshot(
    live_daphne,
):
    # The report: ten anonymous sockets sending padded pings for 10 s grew a
    # daphne by 1.6 GiB. These reconnect whenever they are closed.
    report = async_to_sync(flood)(*url_and_origin(live_daphne), live_daphne.pid, seconds=10)

    assert report.growth_mib <= 50, report
    assert report.slowest_snapshot_seconds <= 1.0, report
    assert len(report.snapshot_seconds) >= 8, report


def test_a_socket_within_its_rate_is_served_and_past_its_burst_is_closed_with_1008(live_daphne):
    async def scenario() -> tuple[list[dict], list[dict], Close | None]:
        async with connect(*url_and_origin(live_daphne)) as socket:
            await socket.recv()  # the snapshot
            # 30 pings in 3 s: the burst covers what the rate has not refilled.
            served = []
            for _ in range(30):
                await socket.send(json.dumps({"type": "ping"}))
                served.append(json.loads(await socket.recv()))
                await asyncio.sleep(0.1)
            for _ in range(25):
                await socket.send(json.dumps({"type": "ping"}))
            return served, *await messages_until_closed(socket)

    served, cut_off, closed = async_to_sync(scenario)()

    assert served == [{"type": "pong"}] * 30
    # Refused at once: answers to the pings before may be cut off.
    assert {message["type"] for message in cut_off} <= {"pong"}
    assert len(cut_off) < 25
    assert closed.code == 1008
    assert closed.reason == "more than 20 messages at once or 5 a second"


def test_an_oversized_frame_closes_with_1009_over_daphne(live_daphne):
    async def scenario() -> tuple[list[dict], Close | None]:
        async with connect(*url_and_origin(live_daphne)) as socket:
            await socket.send(json.dumps({"type": "ping", "pad": "x" * 5000}))
            return await messages_until_closed(socket)

    messages, closed = async_to_sync(scenario)()

    # daphne turned this close into a crash and 1011 before.
    assert messages[-1] == {"type": "error", "message": "message larger than 4096 bytes"}
    assert closed.code == 1009


@pytest.fixture
def daphne_with_a_small_send_buffer(transactional_db) -> Iterator[LiveServer]:
    env = {"TEST_DATABASE_URL": current_database_url(), "WS_SEND_BUFFER_BYTES": "262144"}
    with running_daphne(env) as server:
        yield server


def dropped_within(raw: socket.socket, seconds: float) -> bool:
    """Whether the server ends the connection within `seconds` (reading what is left)."""
    raw.settimeout(0.5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not raw.recv(1 << 20):
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            continue
    return False


def test_a_client_that_never_reads_is_dropped_once_it_falls_behind(
    daphne_with_a_small_send_buffer,
):
    raw = open_without_reading(daphne_with_a_small_send_buffer.port)
    coins = [
        {"id": f"coin-{n}", "price": "12345.678", "change_24h_pct": "1.25"} for n in range(250)
    ]

    async def publish() -> None:
        layer = get_channel_layer()
        # About 9 MB: more than the kernel buffers on both ends hold.
        for index in range(400):
            await layer.group_send(
                "prices", {"type": "prices.update", "coins": coins, "polled_at": f"t{index}"}
            )

    try:
        async_to_sync(publish)()
        assert dropped_within(raw, seconds=10), daphne_with_a_small_send_buffer.log()[-3000:]
    finally:
        raw.close()
