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

import psutil
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from websockets.frames import Close

from prices.tests.socket_flood import (
    CONTINUATION,
    MIB,
    PING,
    TEXT,
    client_frame,
    close_of,
    connect,
    flood,
    longest_stall,
    messages_until_closed,
    open_without_reading,
    send_until_dropped,
    server_frames,
)
from tests_support.live_server import LiveServer, current_database_url, running_daphne

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


# linux/tcp_states.h: what TCP_INFO's first byte says of a connection.
TCP_ESTABLISHED = 1
# Batches published between looks at the client's connection, and at most.
BATCHES_A_ROUND = 50
MOST_BATCHES = 1000


def still_connected(raw: socket.socket) -> bool:
    """Whether the client's end is still established, read without reading the socket.

    Reading would make room in the kernel buffers, so a client that "never
    reads" would keep up after all whenever daphne lags behind the publisher.
    """
    return raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_ESTABLISHED


def test_a_client_that_never_reads_is_dropped_once_it_falls_behind(
    daphne_with_a_small_send_buffer,
):
    raw = open_without_reading(daphne_with_a_small_send_buffer.port)
    coins = [
        {"id": f"coin-{n}", "price": "12345.678", "change_24h_pct": "1.25"} for n in range(250)
    ]

    async def publish_until_dropped() -> int:
        # A batch frame is ~12 KB: the kernel's send buffer alone can grow to
        # 4 MiB (tcp_wmem), so it takes ~400 batches to fall behind past it.
        # Published in rounds, so a slow daphne is not buried in 1,000 at once.
        layer = get_channel_layer()
        for index in range(MOST_BATCHES):
            await layer.group_send(
                "prices", {"type": "prices.update", "coins": coins, "polled_at": f"t{index}"}
            )
            if index % BATCHES_A_ROUND == BATCHES_A_ROUND - 1:
                await asyncio.sleep(0.5)
                if not still_connected(raw):
                    return index + 1
        for _ in range(60):
            if not still_connected(raw):
                return MOST_BATCHES
            await asyncio.sleep(0.5)
        return 0

    try:
        published = async_to_sync(publish_until_dropped)()
    finally:
        raw.close()

    assert published, daphne_with_a_small_send_buffer.log()[-3000:]
    assert "dropped: over 262144 bytes unread" in daphne_with_a_small_send_buffer.log()


def rss_mib(server: LiveServer) -> float:
    return psutil.Process(server.pid).memory_info().rss / MIB


def read_until_close(raw: socket.socket, seconds: float = 5.0) -> list[tuple[int, bytes]]:
    """The server's frames until its close frame, the connection's end or `seconds`.

    Starts where open_without_reading stopped: within the handshake's headers.
    """
    raw.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and close_of(after_headers(received)) is None:
        try:
            chunk = raw.recv(1 << 16)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return after_headers(received)


def after_headers(received: bytes) -> list[tuple[int, bytes]]:
    return server_frames(received.partition(b"\r\n\r\n")[2])


def test_a_ping_flood_from_a_client_that_never_reads_the_pongs_is_closed(live_daphne):
    # The report: pings never reached the message limit, and every pong
    # waited in daphne's memory for a client that never read it.
    before = rss_mib(live_daphne)
    raw = open_without_reading(live_daphne.port)
    try:
        dropped, sent = send_until_dropped(raw, client_frame(PING, b"x" * 125) * 64, seconds=10)
    finally:
        raw.close()

    assert dropped, (sent, live_daphne.log()[-2000:])
    assert rss_mib(live_daphne) - before <= 10


@pytest.fixture
def daphne_without_a_message_rate(transactional_db) -> Iterator[LiveServer]:
    env = {
        "TEST_DATABASE_URL": current_database_url(),
        "WS_MESSAGE_RATE": "1000000",
        "WS_MESSAGE_BURST": "1000000",
    }
    with running_daphne(env) as server:
        yield server


def test_a_client_that_leaves_its_pongs_unread_is_not_read_either(daphne_without_a_message_rate):
    # Pings within the rate (here: any rate) whose pongs are never read: once
    # Twisted's write buffer is full, daphne stops reading the socket, so TCP
    # holds the client back instead of daphne buffering pongs.
    server = daphne_without_a_message_rate
    before = rss_mib(server)
    raw = open_without_reading(server.port)
    try:
        stall, sent = longest_stall(raw, client_frame(PING, b"x" * 125) * 64, seconds=8)
    finally:
        raw.close()

    assert stall >= 2.0, (stall, sent)
    assert rss_mib(server) - before <= 10, sent


def test_a_message_in_more_than_16_frames_is_closed_with_1008(daphne_without_a_message_rate):
    # Without a message rate: the 33 frames here are more than the burst.
    ping = b'{"type": "ping"}'  # 16 bytes: one a frame
    in_16_frames = client_frame(TEXT, ping[:1], fin=False) + b"".join(
        client_frame(CONTINUATION, ping[index : index + 1], fin=index == 15)
        for index in range(1, 16)
    )
    in_17_frames = (
        client_frame(TEXT, b"", fin=False) + client_frame(CONTINUATION, b"", fin=False) * 16
    )
    raw = open_without_reading(daphne_without_a_message_rate.port)
    try:
        raw.sendall(in_16_frames)
        time.sleep(0.5)
        raw.sendall(in_17_frames)
        frames = read_until_close(raw)
    finally:
        raw.close()

    assert (TEXT, b'{"type":"pong"}') in frames
    assert close_of(frames) == (1008, "a message in more than 16 frames")


def test_a_message_that_never_ends_in_empty_fragments_is_closed(live_daphne):
    # The report: empty continuation frames never reached the size limit
    # (the message stayed 0 bytes) while daphne kept a list entry for each.
    before = rss_mib(live_daphne)
    raw = open_without_reading(live_daphne.port)
    try:
        raw.sendall(client_frame(TEXT, b"", fin=False))
        dropped, sent = send_until_dropped(
            raw, client_frame(CONTINUATION, b"", fin=False) * 1000, seconds=10
        )
    finally:
        raw.close()

    assert dropped, (sent, live_daphne.log()[-2000:])
    assert rss_mib(live_daphne) - before <= 10
