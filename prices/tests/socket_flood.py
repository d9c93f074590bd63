"""Flooding /ws/prices/ as an attacker would, for the limits' test and bench/ws_flood.py.

Each flooding client sends one frame after another as fast as the socket
takes them and never reads; when the server closes it, it connects again.
Meanwhile a newcomer connects once a second and times its snapshot, and the
server process's resident memory is sampled. `open_without_reading` is the
other attacker: a socket that is sent prices and never reads them; with
`client_frame` it also sends the frames no WebSocket library would (endless
pings, fragments of a message that never ends).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

import psutil
import websockets
from websockets.frames import Close

# The flood's frame: a ping padded to just under 3.5 KB.
PING_FRAME = json.dumps({"type": "ping", "pad": "x" * 3400})
# A subscribe as large as the frame limit allows: each ran three queries.
SUBSCRIBE_FRAME = json.dumps(
    {"type": "subscribe", "coins": ["bitcoin", "ethereum"] + [f"no-coin-{n}" for n in range(250)]}
)
MIB = 2**20
NEWCOMER_TIMEOUT = 10.0
# RFC 6455 opcodes.
CONTINUATION, TEXT, CLOSE, PING, PONG = 0x0, 0x1, 0x8, 0x9, 0xA


@dataclass
class FloodReport:
    rss_before_mib: float
    rss_peak_mib: float = 0.0
    rss_after_mib: float = 0.0
    frames_sent: int = 0
    connections: int = 0
    closes: Counter = field(default_factory=Counter)
    snapshot_seconds: list[float] = field(default_factory=list)

    @property
    def growth_mib(self) -> float:
        return self.rss_peak_mib - self.rss_before_mib

    @property
    def slowest_snapshot_seconds(self) -> float:
        return max(self.snapshot_seconds, default=float("inf"))


def connect(url: str, origin: str, address: str | None = None, **options):
    """A client socket; `address` is the local one to connect from (any of 127.0.0.0/8)."""
    if address:
        options["local_addr"] = (address, 0)
    return websockets.connect(
        url, origin=origin, proxy=None, ping_interval=None, open_timeout=10, **options
    )


async def snapshot_seconds(url: str, origin: str, address: str | None = None) -> float:
    """Seconds from starting to connect to holding the snapshot (NEWCOMER_TIMEOUT if never)."""
    began = time.perf_counter()
    try:
        async with asyncio.timeout(NEWCOMER_TIMEOUT), connect(url, origin, address) as socket:
            while json.loads(await socket.recv())["type"] != "snapshot":
                pass
    except (TimeoutError, OSError, websockets.WebSocketException):
        return NEWCOMER_TIMEOUT
    return time.perf_counter() - began


async def messages_until_closed(socket, seconds: float = 10.0) -> tuple[list[dict], Close | None]:
    """Every message the socket gets within `seconds`, and how it closed (None: still open)."""
    messages = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                messages.append(json.loads(await socket.recv()))
    except websockets.ConnectionClosed as closed:
        return messages, closed.rcvd
    except TimeoutError:
        return messages, None


async def _flood(url: str, origin: str, frame: str, until: float, report: FloodReport) -> None:
    while time.monotonic() < until:
        report.connections += 1
        try:
            # A one-message queue: the client stops reading almost at once.
            async with connect(url, origin, max_queue=1, close_timeout=1) as socket:
                while time.monotonic() < until:
                    await socket.send(frame)
                    report.frames_sent += 1
        except websockets.ConnectionClosed as closed:
            report.closes[closed.rcvd.code if closed.rcvd else "dropped"] += 1
        except Exception as exc:  # noqa: BLE001 - an attacker carries on whatever breaks
            # Refused handshakes (429 behind nginx), resets; websockets itself
            # may trip over a transport the server aborted.
            report.closes[type(exc).__name__] += 1
            await asyncio.sleep(0.05)


async def flood(
    url: str,
    origin: str,
    server_pid: int,
    *,
    sockets: int = 10,
    seconds: float = 10.0,
    frame: str = PING_FRAME,
    newcomer_address: str | None = None,
) -> FloodReport:
    """Flood for `seconds` from `sockets` clients; report the server's memory and newcomers.

    Newcomers connect from `newcomer_address` (another visitor, behind nginx).
    """
    server = psutil.Process(server_pid)
    await snapshot_seconds(url, origin, newcomer_address)  # imports and pools: not the flood's
    report = FloodReport(rss_before_mib=server.memory_info().rss / MIB)
    report.rss_peak_mib = report.rss_before_mib
    until = time.monotonic() + seconds
    floods = [
        asyncio.create_task(_flood(url, origin, frame, until, report)) for _ in range(sockets)
    ]
    next_newcomer = time.monotonic() + 1.0
    newcomers = []
    while time.monotonic() < until:
        await asyncio.sleep(0.2)
        report.rss_peak_mib = max(report.rss_peak_mib, server.memory_info().rss / MIB)
        if time.monotonic() >= next_newcomer:
            newcomers.append(asyncio.create_task(snapshot_seconds(url, origin, newcomer_address)))
            next_newcomer += 1.0
    report.snapshot_seconds = list(await asyncio.gather(*newcomers))
    await asyncio.gather(*floods)
    report.rss_after_mib = server.memory_info().rss / MIB
    report.rss_peak_mib = max(report.rss_peak_mib, report.rss_after_mib)
    return report


def open_without_reading(port: int) -> socket.socket:
    """A WebSocket handshake on a raw socket that then never reads again."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    raw.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET /ws/prices/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\n\r\n"
        ).encode()
    )
    raw.settimeout(NEWCOMER_TIMEOUT)
    status = raw.recv(12)
    if status != b"HTTP/1.1 101":
        raw.close()
        raise ConnectionError(f"handshake refused: {status!r}")
    return raw


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True) -> bytes:
    """One masked client-to-server frame, as RFC 6455 section 5.2 lays it out."""
    length = len(payload)
    if length < 126:
        lengths = bytes([0x80 | length])
    elif length < 2**16:
        lengths = bytes([0x80 | 126]) + length.to_bytes(2, "big")
    else:
        lengths = bytes([0x80 | 127]) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([(0x80 if fin else 0) | opcode]) + lengths + mask + masked


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each complete unmasked server frame in `data`."""
    frames = []
    while len(data) >= 2:
        length, start = data[1] & 0x7F, 2
        if length == 126:
            length, start = int.from_bytes(data[2:4], "big"), 4
        elif length == 127:
            length, start = int.from_bytes(data[2:10], "big"), 10
        if len(data) < start + length:
            break
        frames.append((data[0] & 0x0F, data[start : start + length]))
        data = data[start + length :]
    return frames


def close_of(frames: list[tuple[int, bytes]]) -> tuple[int, str] | None:
    """The code and reason of the close frame among `frames` (None: there is none)."""
    for opcode, payload in frames:
        if opcode == CLOSE:
            return int.from_bytes(payload[:2], "big"), payload[2:].decode()
    return None


def send_until_dropped(raw: socket.socket, data: bytes, seconds: float) -> tuple[bool, int]:
    """Send `data` over and over for up to `seconds`, never reading.

    Returns whether the server ended the connection meanwhile, and the bytes sent.
    """
    raw.settimeout(0.2)
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            sent += raw.send(data)
        except TimeoutError:
            continue  # the server is not reading: TCP holds us back
        except (BrokenPipeError, ConnectionResetError):
            return True, sent
    return False, sent


def longest_stall(raw: socket.socket, data: bytes, seconds: float) -> tuple[float, int]:
    """Send `data` over and over for `seconds`, never reading.

    Returns the longest time no byte could be sent, and the bytes sent.
    """
    raw.settimeout(0.1)
    sent, stall = 0, 0.0
    last = began = time.monotonic()
    while time.monotonic() - began < seconds:
        try:
            sent += raw.send(data)
            last = time.monotonic()
        except TimeoutError:
            stall = max(stall, time.monotonic() - last)
    return max(stall, time.monotonic() - last), sent
