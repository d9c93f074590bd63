"""One webhook send fits in OUTBOUND_TIMEOUT_SECONDS, whatever its host and server do."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from notifications.transports.base import HttpTransport, TransportError

TIMEOUT = 1.0
# What a send may take past TIMEOUT here: the watchdog closing the connection
# takes milliseconds; the rest is room for a busy test machine.
SLACK = 0.3
# A trickling server sends one piece this often: well within TIMEOUT, so a
# timeout applied per socket read never expires.
DRIP = 0.2


@pytest.fixture(autouse=True)
def _local_hosts(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True  # every address here is loopback
    settings.OUTBOUND_TIMEOUT_SECONDS = TIMEOUT


def timed_post(url: str) -> tuple[TransportError | None, float]:
    """Post to `url`; the error it raised, if any, and the seconds it took."""
    started = time.monotonic()
    try:
        HttpTransport(user=None).post(url, b"{}", {})
    except TransportError as error:
        return error, time.monotonic() - started
    return None, time.monotonic() - started


@pytest.fixture
def trickler() -> Iterator[Callable[[bytes, bytes], int]]:
    """A server that reads a request, sends `first`, then `drip` every DRIP
    seconds for 10 s, or until the client hangs up; returns its port.
    """
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(first: bytes, drip: bytes) -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            try:
                connection.sendall(first)
                for _ in range(int(10 / DRIP)):
                    if stop.wait(DRIP):
                        return
                    connection.sendall(drip)
            except OSError:
                return  # the client hung up

    def start(first: bytes, drip: bytes) -> int:
        threading.Thread(target=serve, args=(first, drip), daemon=True).start()
        return server.getsockname()[1]

    yield start
    stop.set()
    server.close()


def test_a_reply_trickling_its_body_is_sent_once_its_headers_are_in(trickler):
    # The body used to be read chunk by chunk, each within the timeout: 10 s here.
    port = trickler(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\nx\r\n")

    error, elapsed = timed_post(f"http://127.0.0.1:{port}/hook")

    assert elapsed < TIMEOUT + SLACK
    assert error is None


def test_a_reply_trickling_its_headers_is_cut_off_at_the_timeout(trickler):
    # Each byte arrived within the timeout of one read, so it never expired.
    port = trickler(b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a")

    error, elapsed = timed_post(f"http://127.0.0.1:{port}/hook")

    assert elapsed < TIMEOUT + SLACK
    assert error is not None and not error.permanent
    assert f"127.0.0.1:{port}/hook did not answer within 1 s" in error.message


def test_a_tls_handshake_after_a_slow_connect_gets_only_the_time_left(settings):
    settings.OUTBOUND_TIMEOUT_SECONDS = 2.0
    # The full backlog drops the client's SYN; freed 0.3 s later, it takes the
    # SYN retransmitted 1 s in. Then the server never speaks TLS.
    server = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = server.getsockname()[1]
    with server, socket.create_connection(("127.0.0.1", port)):
        freeing = threading.Timer(0.3, lambda: server.accept()[0].close())
        freeing.start()

        error, elapsed = timed_post(f"https://127.0.0.1:{port}/hook")
        freeing.join()

    # The handshake used to get the whole timeout again after the connect: 3 s.
    assert elapsed < 2.0 + SLACK
    assert error is not None and not error.permanent
    assert f"127.0.0.1:{port}/hook did not answer within 2 s" in error.message


def test_a_slow_name_lookup_counts_against_the_timeout(monkeypatch, receiver):
    # The lookup used to run before the deadline started: 3 s here, then the send.
    real = socket.getaddrinfo

    def slow_getaddrinfo(host, *args, **kwargs):
        if host == "slow.test":
            time.sleep(3)
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    port = receiver.server.server_address[1]

    error, elapsed = timed_post(f"http://slow.test:{port}/hook")

    assert elapsed < TIMEOUT + SLACK
    assert error is not None and not error.permanent
    assert "could not resolve slow.test" in error.message
    assert receiver.requests == []


def test_two_addresses_that_never_connect_take_one_timeout_not_two(dns, unanswering_listener):
    port = unanswering_listener("127.0.0.2")
    unanswering_listener("127.0.0.3", port)
    dns["dead.test"] = [["127.0.0.2", "127.0.0.3"]]

    error, elapsed = timed_post(f"http://dead.test:{port}/hook")

    # Each address used to get the whole timeout: 2 s here.
    assert elapsed < TIMEOUT + 0.5
    assert error is not None and not error.permanent
    assert f"dead.test:{port}/hook did not answer within 1 s" in error.message


def test_a_dead_first_address_leaves_time_to_send_to_the_next(receiver, dns, unanswering_listener):
    port = unanswering_listener("127.0.0.2", receiver.server.server_address[1])
    dns["two.test"] = [["127.0.0.2", "127.0.0.1"]]

    error, elapsed = timed_post(f"http://two.test:{port}/hook")

    assert error is None
    assert len(receiver.requests) == 1
    # The dead address gets half the time (two addresses to try), not all of it.
    assert elapsed < TIMEOUT - 0.2


def test_the_reply_gets_only_the_time_the_addresses_left(receiver, dns, unanswering_listener):
    # Half the timeout goes on the dead address; a reply 0.8 s later is too late.
    port = unanswering_listener("127.0.0.2", receiver.server.server_address[1])
    dns["two.test"] = [["127.0.0.2", "127.0.0.1"]]
    receiver.script = [("sleep", 0.8)]

    error, elapsed = timed_post(f"http://two.test:{port}/hook")

    assert error is not None and not error.permanent  # retried later, like any timeout
    assert "did not answer within 1 s" in error.message
    assert elapsed < TIMEOUT + 0.5
