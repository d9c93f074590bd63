"""Real collaborators for the notification tests: an SMTP server, an HTTP receiver."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import selectors
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone
from honcho.environ import parse_procfile

from alerts.models import Alert, AlertEvent
from cryptomonitor.celery import app as celery_app
from notifications import push
from notifications.models import Delivery
from notifications.outbox import record_deliveries
from notifications.tests.push_service import PushService
from prices.models import Coin
from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins
from tests_support.celery_worker import start_celery_worker
from tests_support.live_server import current_database_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def routed_to(queue: str) -> dict[str, dict[str, str]]:
    """The app's task routes (deliveries: the notifications queue), all to `queue` instead."""
    return {task: {"queue": queue} for task in celery_app.conf.task_routes or {}}


@pytest.fixture(autouse=True)
def private_celery_queue() -> Iterator[str]:
    """Route this test's tasks, the notifications queue's too, to a queue of its own."""
    queue = f"cm-e-test-{uuid.uuid4().hex[:12]}"
    previous = celery_app.conf.task_default_queue, celery_app.conf.task_routes
    # update(), not assignment: only update() makes Celery rebuild its router.
    celery_app.conf.update(task_default_queue=queue, task_routes=routed_to(queue))
    yield queue
    celery_app.conf.update(task_default_queue=previous[0], task_routes=previous[1])
    with celery_app.connection_for_write() as connection:
        # The queues and kombu's bookkeeping of them.
        for name in (queue, notifications_queue_of(queue)):
            connection.default_channel.client.delete(
                name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}"
            )


def notifications_queue_of(queue: str) -> str:
    return f"{queue}-notifications"


@pytest.fixture
def private_notifications_queue(private_celery_queue) -> str:
    """Deliveries to a second private queue, as production's `notifications` queue."""
    queue = notifications_queue_of(private_celery_queue)
    celery_app.conf.update(task_routes=routed_to(queue))
    return queue


def queued_delivery_ids(queue: str) -> list[int]:
    """The delivery ids waiting in a Celery queue (Redis list of JSON messages)."""
    with celery_app.connection_for_write() as connection:
        raw = connection.default_channel.client.lrange(queue, 0, -1)
    ids = []
    for item in raw:
        message = json.loads(item)
        body = json.loads(base64.b64decode(message["body"]))
        ids.append(body[0][0])
    return ids


@pytest.fixture
def coin(db) -> Coin:
    return Coin.objects.create(
        coingecko_id="bitcoin", symbol="btc", name="Bitcoin", price=Decimal("30123.45")
    )


@pytest.fixture
def fire(coin) -> Callable[..., list[Delivery]]:
    """Fire an `above 30000` alert of a user: its event and deliveries, as firing does."""

    def fire(
        user,
        channels=("email",),
        price: str = "30123.45",
        note: str = "",
        currency: str = "usd",
        exchange_rate: str = "1",
    ) -> list[Delivery]:
        alert = Alert.objects.create(
            user=user,
            coin=coin,
            condition="above",
            target=Decimal("30000"),
            currency=currency,
            channels=list(channels),
            note=note,
        )
        event = AlertEvent.objects.create(
            alert=alert,
            coin=coin,
            price=Decimal(price),
            previous_price=Decimal("29990"),
            currency=currency,
            exchange_rate=Decimal(exchange_rate),
            reason=f"BTC is at {price}, at or above 30000",
            triggered_at=timezone.now(),
        )
        return record_deliveries(event, list(channels))

    return fire


# --- SMTP -------------------------------------------------------------------------------


class MailSink:
    """An aiosmtpd handler that records accepted mail and misbehaves on request."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        # e.g. "550 5.1.1 No such user": refuse every recipient with it.
        self.rcpt_reply: str | None = None
        # Hold DATA until `release` is set, then drop the message (a send in flight).
        self.holding = False
        self.data_started = threading.Event()
        self.release = threading.Event()
        self.port = 0
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.holding:
            self.data_started.set()
            await asyncio.to_thread(self.release.wait)
            return "451 4.3.0 Aborted"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def start_smtp(sink: MailSink, port: int) -> Controller:
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port
    return controller


def use_smtp(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def smtp(settings) -> Iterator[MailSink]:
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend sends to."""
    sink = MailSink()
    controller = start_smtp(sink, free_port())
    use_smtp(settings, sink.port)
    yield sink
    sink.release.set()
    controller.stop()


# --- Real Celery workers ---------------------------------------------------------------


class Workers:
    """Starts `celery worker` subprocesses on the test's queue, database and SMTP server."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.processes: list[subprocess.Popen] = []

    def start(
        self, smtp_port: int, consume: str | None = None, notifications_queue: str = "", **env: str
    ) -> subprocess.Popen:
        """A worker consuming `consume` (default: the test's queue); the tasks it
        enqueues go where the test's do (deliveries to `notifications_queue` if set).
        """
        process = start_celery_worker(
            consume or self.queue,
            "notifications.tests.worker_settings",
            CM_TEST_CELERY_QUEUE=self.queue,
            CM_TEST_NOTIFICATIONS_QUEUE=notifications_queue or self.queue,
            CM_TEST_SMTP_PORT=str(smtp_port),
            CM_TEST_ROOT_URLCONF=django_settings.ROOT_URLCONF,
            **env,
        )
        self.processes.append(process)
        return process

    def start_as_procfile_runs(self, process: str, consume: str, **env: str) -> subprocess.Popen:
        """The Procfile's `process` worker (its pool and concurrency), consuming `consume`."""
        command = (
            parse_procfile((django_settings.BASE_DIR / "Procfile").read_text())
            .processes[process]
            .split()
        )
        assert command[0] == "celery", command
        command[0] = f"{django_settings.BASE_DIR}/.venv/bin/celery"
        command[command.index("-Q") + 1] = consume
        started = subprocess.Popen(  # noqa: S603 (our venv's celery, the Procfile's arguments)
            [
                *command,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            cwd=django_settings.BASE_DIR,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "notifications.tests.worker_settings",
                "TEST_DATABASE_URL": current_database_url(),
                "TEST_REDIS_URL": django_settings.REDIS_URL,
                "CM_TEST_CELERY_QUEUE": self.queue,
                "CM_TEST_NOTIFICATIONS_QUEUE": consume,
                "CM_TEST_SMTP_PORT": "1",
                "CM_TEST_ROOT_URLCONF": django_settings.ROOT_URLCONF,
                **env,
            },
        )
        self.processes.append(started)
        return started

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        # SIGKILL: a warm shutdown takes seconds, and the queue is deleted anyway.
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)


@pytest.fixture
def workers(private_celery_queue) -> Iterator[Workers]:
    started = Workers(private_celery_queue)
    yield started
    started.stop_all()


# --- HTTP receiver (webhooks, Apprise json://) ------------------------------------------------


class Receiver:
    """A local HTTP server: plays scripted replies, records requests, checks signatures."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.requests: list[dict] = []
        # Each request pops the next reply: an HTTP status, or ("sleep", seconds).
        self.script: list[int | tuple[str, float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.record(dict(self.headers), body)
                reply = receiver.script.pop(0) if receiver.script else 200
                if isinstance(reply, tuple):
                    time.sleep(reply[1])
                    reply = 200
                self.send_response(reply)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def record(self, headers: dict, body: bytes) -> None:
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        signature = headers.get("X-CryptoMonitor-Signature", "")
        self.requests.append(
            {
                "headers": headers,
                "body": body,
                "json": json.loads(body or b"null"),
                "signature_valid": hmac.compare_digest(signature, expected),
            }
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[list[str]]]:
    """Names the test answers for: each lookup takes the next answer (a list of
    addresses, in order), the last one stays; other names are looked up for real.
    """
    real = socket.getaddrinfo
    answers: dict[str, list[list[str]]] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port or 0)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def unanswering_listener() -> Iterator[Callable[[str, int], int]]:
    """Listen on (address, port) but never complete a connection; returns the port.

    The backlog of one is taken by a connection nobody accepts, so the
    kernel drops every later SYN: a client's connect waits out its timeout,
    as with a host that is down or firewalled.
    """
    sockets: list[socket.socket] = []

    def listen(address: str, port: int = 0) -> int:
        server = socket.create_server((address, port), backlog=0)
        port = server.getsockname()[1]
        sockets.extend([server, socket.create_connection((address, port), timeout=5)])
        return port

    yield listen
    for sock in sockets:
        sock.close()


class Tarpit:
    """A local server that accepts connections and never answers; counts them open.

    `most_open` is the most connections it held at once: each is a send in
    flight until its client gives up and closes it.
    """

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        self.accepted = 0
        self.open = 0
        self.most_open = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.server, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    if key.fileobj is self.server:
                        connection, _ = self.server.accept()
                        selector.register(connection, selectors.EVENT_READ)
                        self.accepted += 1
                        self.open += 1
                        self.most_open = max(self.most_open, self.open)
                    elif not self._read(key.fileobj):
                        selector.unregister(key.fileobj)
                        key.fileobj.close()
                        self.open -= 1
            for key in list(selector.get_map().values()):
                key.fileobj.close()

    @staticmethod
    def _read(connection: socket.socket) -> bool:
        """Read what the client sent (never answered); False once it closed."""
        try:
            return bool(connection.recv(65536))
        except OSError:
            return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def tarpit() -> Iterator[Tarpit]:
    server = Tarpit()
    yield server
    server.stop()


# --- Web Push service ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def forget_vapid_key() -> Iterator[None]:
    """Each test's database holds its own VAPID key: read it afresh (push.key_pair caches)."""
    push.forget_key_pair()
    yield
    push.forget_key_pair()


@pytest.fixture
def push_service() -> Iterator[PushService]:
    """A local Web Push service that checks VAPID and decrypts (push_service.py)."""
    service = PushService()
    yield service
    service.stop()


@pytest.fixture
def coingecko(settings):
    """A fake CoinGecko serving bitcoin, which the poll reads (the end-to-end tests)."""
    with FakeCoinGecko(generate_coins(1)) as fake:
        settings.COINGECKO_BASE_URL = fake.url
        settings.PRICE_SOURCE = "coingecko"
        settings.TRACKED_COINS = ["bitcoin"]
        yield fake


# --- PostgreSQL that stops answering -------------------------------------------------------


@contextlib.contextmanager
def stalled_reads(table: str, seconds: float) -> Iterator[None]:
    """For `seconds` from now, every read of `table` waits (a link cut, then healed).

    Another connection holds the table's ACCESS EXCLUSIVE lock, which even a
    plain SELECT waits for: the read answers only when the lock goes, as a
    query on a cut link answers only once the link is back. The rows must be
    committed (a transactional test), or the lock would wait for the test.
    """
    locked = threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic(), db_connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
                cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                locked.set()
                time.sleep(seconds)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            db_connection.close()
            locked.set()

    holder = threading.Thread(target=hold, name="stalled-reads")
    holder.start()
    locked.wait()
    try:
        if errors:
            raise errors[0]
        yield
    finally:
        holder.join()
