"""PostgreSQL and Redis clients give up on a dead link within their bounds.

Without a bound, libpq (and kombu's Redis client) wait for TCP to give up,
about 15 minutes: a worker cut off from the database had every thread stuck
until the link came back (docs/operations.md, "Failure scenarios"). Here the
link is a real one that can be cut: the client connects from a thread inside
a network namespace of the test's own, over a veth pair to a forwarder on
this machine's side that relays to the test's server. Taking the machine's end of the pair down
drops every packet both ways, as a pulled cable does (deploy/cluster does the
same to a node). Needs root and iproute2, as `make cluster` does.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import OperationalError, connection
from django.db.backends.postgresql.base import DatabaseWrapper
from kombu import Connection
from redis.exceptions import RedisError

from cryptomonitor.celery import app as celery_app
from deploy.cluster.netns import InNamespace, ip

SETTINGS = Path(__file__).resolve().parents[1] / "settings.py"
BOUND_SECONDS = 3
# TCP's retransmission timer and the keepalive probes land on whole ticks
# around the bound; anything near it is the bound working, not TCP's
# minutes-long default.
MARGIN_SECONDS = 4

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None,
        reason="cuts a link in a network namespace: needs root and iproute2",
    ),
    pytest.mark.django_db,
]


class Forwarder:
    """Relays every connection accepted on `listen` to `target`, both ways."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(listen)
        self.address = self.server.getsockname()
        self.sockets: list[socket.socket] = [self.server]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.server.accept()
                upstream = socket.create_connection(self.target)
                self.sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


class Link:
    """A namespace behind a veth pair: `cut()` takes the machine's end down."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.namespace, self.veth = f"cmdl-{tag}", f"cmdl{tag}"
        # A /30 of its own, on no other interface (another test run's pair
        # included): only this pair uses it.
        octet = _free_octet()
        self.machine_address, self.namespace_address = f"10.79.{octet}.1", f"10.79.{octet}.2"
        try:
            ip("netns", "add", self.namespace)
            ip(
                "link",
                "add",
                self.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                self.namespace,
            )
            ip("addr", "add", f"{self.machine_address}/30", "dev", self.veth)
            ip("link", "set", self.veth, "up")
            ip("-n", self.namespace, "addr", "add", f"{self.namespace_address}/30", "dev", "eth0")
            ip("-n", self.namespace, "link", "set", "eth0", "up")
        except Exception:
            self.remove()
            raise
        self.threads = InNamespace(self.namespace, threads=1)

    def cut(self) -> None:
        ip("link", "set", self.veth, "down")

    def remove(self) -> None:
        ip("link", "del", self.veth, check=False)
        ip("netns", "del", self.namespace, check=False)


def _free_octet() -> int:
    used = ip("-4", "-o", "addr", "show").stdout
    free = [n for n in range(20, 220) if f" 10.79.{n}." not in used]
    return free[secrets.randbelow(len(free))]


def dead_link_options(seconds: int) -> dict:
    """The connection OPTIONS the real settings derive from DATABASE_DEAD_LINK_SECONDS."""
    previous = os.environ.get("DATABASE_DEAD_LINK_SECONDS")
    os.environ["DATABASE_DEAD_LINK_SECONDS"] = str(seconds)
    try:
        return runpy.run_path(str(SETTINGS))["DATABASES"]["default"].get("OPTIONS", {})
    finally:
        if previous is None:
            del os.environ["DATABASE_DEAD_LINK_SECONDS"]
        else:
            os.environ["DATABASE_DEAD_LINK_SECONDS"] = previous


@pytest.fixture
def link() -> Iterator[Link]:
    made = Link()
    try:
        yield made
    finally:
        made.remove()


@pytest.fixture
def broker_across(link: Link, settings) -> Iterator[Connection]:
    """A connection to the Celery broker as the app makes it, reached across `link`."""
    broker = urlsplit(settings.CELERY_BROKER_URL)
    if broker.scheme != "redis":
        pytest.skip("the broker is not reached over TCP: no link to cut")
    forwarder = Forwarder((link.machine_address, 0), (broker.hostname, broker.port or 6379))
    url = broker._replace(netloc=f"{link.machine_address}:{forwarder.address[1]}").geturl()
    across = link.threads.call(_connect_broker, url)
    try:
        yield across
    finally:
        # A command still waiting (the old code) is woken: its socket shut from here.
        pool = across.default_channel.client.connection_pool
        for redis_connection in [*pool._in_use_connections, *pool._available_connections]:
            if redis_connection._sock is not None:
                _wake(redis_connection._sock)
        with contextlib.suppress(FutureTimeout):
            link.threads.submit(pool.disconnect).result(timeout=30)
        link.threads.close()
        forwarder.close()


def _wake(sock: socket.socket) -> None:
    """Make a thread blocked on `sock` return at once, the link cut or not."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _connect_broker(url: str) -> Connection:
    connection = celery_app.connection_for_write(url)
    connection.ensure_connection(max_retries=1)
    return connection


@pytest.fixture
def database_across(link: Link) -> Iterator[DatabaseWrapper]:
    """The test database as the settings connect to it, reached across `link`."""
    settings_dict = connection.settings_dict
    if (settings_dict["HOST"] or "").startswith("/"):
        pytest.skip("the test database is on a Unix socket: no link to cut")
    forwarder = Forwarder(
        (link.machine_address, 0),
        (settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)),
    )
    across = link.threads.call(
        _connect,
        {
            **settings_dict,
            "HOST": link.machine_address,
            "PORT": str(forwarder.address[1]),
            "OPTIONS": {**dead_link_options(BOUND_SECONDS), "application_name": link.namespace},
        },
    )
    try:
        yield across
    finally:
        # A query still waiting (the old code) is woken: its socket shut
        # from here, then the connection closed by its own thread.
        raw = across.connection
        if raw is not None and not raw.closed:
            with socket.socket(fileno=os.dup(raw.pgconn.socket)) as sock:
                _wake(sock)
        with contextlib.suppress(FutureTimeout):
            link.threads.submit(_close, across).result(timeout=30)
        link.threads.close()
        forwarder.close()
        _end_sessions(link.namespace)


def _end_sessions(application_name: str) -> None:
    """The server's end of the forwarded connection: gone before the test database is dropped."""
    with connection.cursor() as cursor:
        for _ in range(50):
            # pg_stat_activity holds still within a transaction (the test's) unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s",
                [application_name],
            )
            if cursor.fetchone() == (0,):
                return
            time.sleep(0.1)


def _connect(settings_dict: dict) -> DatabaseWrapper:
    """Made and used in the namespace's one thread (Django ties a connection to its thread)."""
    database = DatabaseWrapper(settings_dict, alias="across_the_link")
    database.ensure_connection()
    return database


def _close(database: DatabaseWrapper) -> None:
    with contextlib.suppress(Exception):
        database.close()


def _query(database: DatabaseWrapper, sql: str) -> object:
    with database.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def _time_failure(
    link: Link,
    call: Callable[[], object],
    error: type[Exception],
    cut_after: float | None,
    bound: float = BOUND_SECONDS,
) -> float:
    """Seconds from the cut until `call` fails; the test fails if it still waits.

    The link is cut `cut_after` seconds after the call starts, or before it
    when None.
    """
    if cut_after is None:
        link.cut()
    started = link.threads.submit(call)
    if cut_after is not None:
        time.sleep(cut_after)
        link.cut()
    cut_at = time.monotonic()
    with pytest.raises(error):
        try:
            started.result(timeout=bound + MARGIN_SECONDS)
        except FutureTimeout:
            pytest.fail(
                f"still waiting {bound + MARGIN_SECONDS} s after the cut (bound: {bound} s)"
            )
    return time.monotonic() - cut_at


def test_a_query_sent_on_a_cut_link_fails_within_the_bound(link, database_across):
    assert link.threads.call(_query, database_across, "SELECT 1") == (1,)

    # Cut first: the query's packets go unacknowledged (tcp_user_timeout).
    waited = _time_failure(
        link, partial(_query, database_across, "SELECT 1"), OperationalError, cut_after=None
    )

    assert waited < BOUND_SECONDS + MARGIN_SECONDS


def test_a_reply_lost_on_a_cut_link_fails_within_the_bound(link, database_across):
    # The query reached the server before the cut: the client only waits for
    # its reply, nothing of its own unacknowledged (keepalives find the cut).
    waited = _time_failure(
        link,
        partial(_query, database_across, "SELECT pg_sleep(1)"),
        OperationalError,
        cut_after=0.3,
    )

    assert waited < BOUND_SECONDS + MARGIN_SECONDS


def test_a_broker_command_on_a_cut_link_fails_within_the_command_timeout(
    link, broker_across, settings
):
    client = broker_across.default_channel.client
    assert link.threads.call(client.ping)

    # A publish, an ack or beat's send waits on one such reply.
    bound = settings.REDIS_COMMAND_TIMEOUT_SECONDS
    waited = _time_failure(link, client.ping, RedisError, cut_after=None, bound=bound)

    assert waited < bound + MARGIN_SECONDS
