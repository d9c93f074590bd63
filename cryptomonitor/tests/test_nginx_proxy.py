"""docker/nginx.conf in front of the real web and ws servers, as docker-compose.yml runs them.

The two servers start with the exact commands of compose's `web` and `ws`
services (only the address and port rewritten), nginx with the production
config (only upstream addresses, port and paths rewritten): a page of the
API and a WebSocket upgrade both go through. Skipped when nginx is not
installed, except in CI (CI=true), where a missing nginx fails the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import websockets
from asgiref.sync import async_to_sync

from accounts.models import ApiToken
from alerts.models import Alert
from prices.models import Coin
from tests_support.compose import compose_command, compose_environment
from tests_support.live_server import current_database_url
from tests_support.nginx import (
    free_port,
    nginx_binary,
    render_config,
    running_nginx,
    running_process,
)

BASE_DIR = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

if nginx_binary() is None and os.environ.get("CI") != "true":
    pytestmark.append(
        pytest.mark.skip(
            reason="nginx is not installed (make proxy, or apt-get install nginx-light)"
        )
    )


# The servers' settings: the test settings, one cache key prefix for every
# process (throttle counters are shared, as in production), the proxy header
# production trusts when DEBUG is off, plus a test's own.
SERVER_SETTINGS = """
from tests_support.settings import *
CACHES["default"]["KEY_PREFIX"] = {prefix!r}
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
{extra}
"""


@contextmanager
def behind_nginx(tmp_path: Path, extra_settings: str = "") -> Iterator[int]:
    """nginx in front of compose's web and ws commands; yields nginx's port."""
    (tmp_path / "proxy_test_settings.py").write_text(
        SERVER_SETTINGS.format(prefix=f"cm-proxy-test-{uuid.uuid4().hex}", extra=extra_settings)
    )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(BASE_DIR)]),
        "DJANGO_SETTINGS_MODULE": "proxy_test_settings",
        "TEST_DATABASE_URL": current_database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    ports = {"web": free_port(), "ws": free_port()}
    with ExitStack() as stack:
        for service, listen_port in (("web", "8000"), ("ws", "8001")):
            command = compose_command(service, listen_port, ports[service])
            log = tmp_path / f"{service}.log"
            stack.enter_context(
                running_process(
                    command,
                    ports[service],
                    log,
                    cwd=BASE_DIR,
                    env={**env, **compose_environment(service)},
                )
            )
        yield stack.enter_context(
            running_nginx(f"127.0.0.1:{ports['web']}", f"127.0.0.1:{ports['ws']}", tmp_path)
        )


@pytest.fixture
def proxy(tmp_path) -> Iterator[int]:
    """A proxy of the test's own: its micro-cache starts empty."""
    with behind_nginx(tmp_path) as port:
        yield port


@pytest.fixture(scope="module")
def shared_proxy(django_db_setup, tmp_path_factory) -> Iterator[int]:
    """One proxy for the tests that leave nothing in it another would read: no
    anonymous coin list in its micro-cache, no throttle counts (its three
    servers and nginx take seconds to start).
    """
    with behind_nginx(tmp_path_factory.mktemp("shared-proxy")) as port:
        yield port


@pytest.fixture
def strict_proxy(tmp_path) -> Iterator[int]:
    """Behind nginx, with one token request and one failed login per minute and address."""
    extra = (
        'REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token_obtain"] = "1/min"\n'
        'ACCOUNT_RATE_LIMITS = {**ACCOUNT_RATE_LIMITS, "login_failed": "1/m/ip"}'
    )
    with behind_nginx(tmp_path, extra) as port:
        yield port


def client_at(address: str) -> httpx.Client:
    """A client whose requests leave from `address` (any of 127.0.0.0/8)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def ask_for_a_token(client: httpx.Client, port: int, **headers) -> int:
    response = client.post(
        f"http://127.0.0.1:{port}/api/v1/auth/token/",
        json={"username": "nobody", "password": "wrong", "name": "guess"},
        headers=headers,
    )
    return response.status_code


def test_the_config_passes_nginx_t(tmp_path):
    config = render_config("127.0.0.1:1", "127.0.0.1:2", free_port(), tmp_path)

    result = subprocess.run(
        [nginx_binary(), "-t", "-c", str(config), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    # nginx passes -t with warnings: a directive it ignores or overrides.
    assert "[warn]" not in result.stderr, result.stderr


def test_an_api_read_goes_to_the_wsgi_server(shared_proxy, owner):
    coin = Coin.objects.create(coingecko_id="bitcoin", symbol="btc", name="Bitcoin")
    for target in ("70000", "80000"):
        Alert.objects.create(user=owner, coin=coin, condition="above", target=Decimal(target))
    _, key = ApiToken.issue(owner, "proxy test")

    response = httpx.get(
        f"http://127.0.0.1:{shared_proxy}/api/v1/alerts/?page_size=1",
        headers={"Authorization": f"Token {key}"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["target"] for item in body["results"]] == ["80000"]
    # The Host header passes with its port: links lead back through the proxy.
    assert body["next"].startswith(f"http://127.0.0.1:{shared_proxy}/api/v1/alerts/")


def test_a_websocket_upgrade_goes_to_daphne(shared_proxy):
    async def snapshot() -> dict:
        async with websockets.connect(
            f"ws://127.0.0.1:{shared_proxy}/ws/prices/",
            origin=f"http://127.0.0.1:{shared_proxy}",
            open_timeout=10,
            proxy=None,
        ) as ws:
            async with asyncio.timeout(10):
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == "snapshot":
                        return message

    assert "coins" in async_to_sync(snapshot)()


def coin_names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [coin["name"] for coin in response.json()["results"]]


def test_an_anonymous_repeat_of_the_coin_list_comes_from_the_micro_cache(proxy):
    coin = Coin.objects.create(coingecko_id="bitcoin", symbol="btc", name="Bitcoin")
    url = f"http://127.0.0.1:{proxy}/api/v1/coins/"
    first = httpx.get(url)
    Coin.objects.filter(pk=coin.pk).update(name="Renamed")

    repeat = httpx.get(url)  # within the second the answer is kept

    assert (first.headers["X-Cache-Status"], repeat.headers["X-Cache-Status"]) == ("MISS", "HIT")
    assert coin_names(repeat) == ["Bitcoin"]


def test_a_request_with_a_token_or_a_cookie_never_uses_the_micro_cache(proxy, owner):
    coin = Coin.objects.create(coingecko_id="bitcoin", symbol="btc", name="Bitcoin")
    _, key = ApiToken.issue(owner, "proxy test")
    url = f"http://127.0.0.1:{proxy}/api/v1/coins/"
    token = {"Authorization": f"Token {key}"}
    with_token = httpx.get(url, headers=token)
    anonymous = httpx.get(url)  # the token's answer was not stored
    Coin.objects.filter(pk=coin.pk).update(name="Renamed")

    again = httpx.get(url, headers=token)
    with_cookie = httpx.get(url, headers={"Cookie": "sessionid=x"})

    assert anonymous.headers["X-Cache-Status"] == "MISS"
    assert [r.headers["X-Cache-Status"] for r in (with_token, again, with_cookie)] == ["BYPASS"] * 3
    assert coin_names(again) == coin_names(with_cookie) == ["Renamed"]


def test_nginx_answers_its_own_health_check(shared_proxy):
    assert httpx.get(f"http://127.0.0.1:{shared_proxy}/nginx-health").text == "ok\n"


def test_a_stopped_upstream_is_a_502_not_a_hang(tmp_path):
    with running_nginx("127.0.0.1:9", "127.0.0.1:9", tmp_path) as port:
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/coins/", timeout=10).status_code == 502


def test_a_spoofed_x_forwarded_for_does_not_escape_the_throttle(strict_proxy):
    with client_at("127.0.0.5") as client:
        first = ask_for_a_token(client, strict_proxy, **{"X-Forwarded-For": "203.0.113.1"})
        second = ask_for_a_token(client, strict_proxy, **{"X-Forwarded-For": "203.0.113.2"})

    assert (first, second) == (400, 429)


def test_each_visitor_address_has_its_own_throttle(strict_proxy):
    # nginx connects from 127.0.0.1 for everyone: counting by its address
    # would put every visitor in one bucket.
    with client_at("127.0.0.5") as one, client_at("127.0.0.6") as other:
        statuses = [ask_for_a_token(client, strict_proxy) for client in (one, other)]

    assert statuses == [400, 400]


def failed_login(client: httpx.Client, port: int) -> str:
    login = f"http://127.0.0.1:{port}/accounts/login/"
    client.get(login)
    response = client.post(
        login,
        data={
            "login": "nobody",
            "password": "wrong",
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
        headers={"Referer": login, "X-Forwarded-For": "203.0.113.1"},
    )
    return response.text


def test_failed_logins_lock_out_only_their_own_address(strict_proxy):
    with client_at("127.0.0.5") as one, client_at("127.0.0.6") as other:
        failed_login(one, strict_proxy)
        locked = failed_login(one, strict_proxy)
        page = failed_login(other, strict_proxy)

    assert "Too many failed login attempts" in locked
    assert "Too many failed login attempts" not in page
    assert "not correct" in page


def test_a_client_cannot_claim_https(shared_proxy):
    # Django trusts X-Forwarded-Proto: https (SECURE_PROXY_SSL_HEADER) when
    # DEBUG is off: only nginx may say how the client connected.
    for symbol in ("btc", "eth"):
        Coin.objects.create(coingecko_id=symbol, symbol=symbol, name=symbol)

    response = httpx.get(
        f"http://127.0.0.1:{shared_proxy}/api/v1/coins/?page_size=1",
        headers={"X-Forwarded-Proto": "https"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["next"].startswith(f"http://127.0.0.1:{shared_proxy}/")


class SilentSmtpServer:
    """Accepts SMTP connections and never greets: every send waits for its timeout."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self.listener.accept()[0])

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count:
            assert time.monotonic() < deadline, f"{len(self.accepted)} of {count} mail sends"
            time.sleep(0.05)

    def close(self) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_smtp() -> Iterator[SilentSmtpServer]:
    server = SilentSmtpServer()
    yield server
    server.close()


@pytest.fixture
def mailing_proxy(tmp_path, silent_smtp) -> Iterator[int]:
    """Behind nginx, sending mail over SMTP to the silent server (30 s timeout)."""
    extra = (
        'EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"\n'
        f"EMAIL_HOST, EMAIL_PORT, EMAIL_TIMEOUT = '127.0.0.1', {silent_smtp.port}, 30"
    )
    with behind_nginx(tmp_path, extra) as port:
        yield port


def request_password_reset(port: int, email: str) -> None:
    reset = f"http://127.0.0.1:{port}/accounts/password/reset/"
    with httpx.Client(timeout=60) as client:
        client.get(reset)
        with contextlib.suppress(httpx.HTTPError):
            client.post(
                reset,
                data={"email": email, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                headers={"Referer": reset},
            )


def test_slow_mail_sends_do_not_stall_the_site(mailing_proxy, silent_smtp, django_user_model):
    # allauth sends reset mail inside the request: with one thread per worker,
    # as many slow SMTP servers as workers stalled every page and /healthz.
    django_user_model.objects.create_user("someone", "someone@example.com", "a-password-1")
    senders = [
        threading.Thread(
            target=request_password_reset, args=(mailing_proxy, "someone@example.com"), daemon=True
        )
        for _ in range(3)
    ]
    for sender in senders:
        sender.start()
    silent_smtp.wait_for(3)

    statuses = [
        httpx.get(f"http://127.0.0.1:{mailing_proxy}/healthz", timeout=5).status_code
        for _ in range(4)
    ]

    assert set(statuses) <= {200, 503}


# --- WebSocket limits per client address (docker/nginx.conf) -------------------------


@pytest.fixture
def ws_proxy(live_daphne, tmp_path) -> Iterator[int]:
    """nginx in front of a real daphne for /ws/ (nothing behind the other locations)."""
    with running_nginx("127.0.0.1:9", f"127.0.0.1:{live_daphne.port}", tmp_path) as port:
        yield port


async def open_sockets(port: int, address: str, count: int, stack: contextlib.AsyncExitStack):
    """Open `count` sockets from `address` (kept open on `stack`); the HTTP status of each."""
    statuses = []
    for _ in range(count):
        try:
            socket = await stack.enter_async_context(
                websockets.connect(
                    f"ws://127.0.0.1:{port}/ws/prices/",
                    origin=f"http://127.0.0.1:{port}",
                    local_addr=(address, 0),
                    open_timeout=10,
                    proxy=None,
                )
            )
            await socket.recv()  # the snapshot: daphne holds it open
            statuses.append(101)
        except websockets.InvalidStatus as refused:
            statuses.append(refused.response.status_code)
    return statuses


def test_one_address_may_hold_50_open_sockets_through_nginx(ws_proxy):
    async def scenario() -> tuple[list[int], list[int]]:
        async with contextlib.AsyncExitStack() as stack:
            one = await open_sockets(ws_proxy, "127.0.0.5", 52, stack)
            other = await open_sockets(ws_proxy, "127.0.0.6", 1, stack)
            return one, other

    one, other = async_to_sync(scenario)()

    assert one == [101] * 50 + [429] * 2
    assert other == [101]


def test_one_address_may_open_a_burst_of_100_sockets_then_10_a_second(ws_proxy):
    async def scenario() -> tuple[list[int], list[int]]:
        statuses = []
        # One at a time, each closed at once: only the handshake rate counts.
        # The bucket refills 10 a second meanwhile: stop at the first refusal.
        while 429 not in statuses and len(statuses) < 400:
            async with contextlib.AsyncExitStack() as stack:
                statuses += await open_sockets(ws_proxy, "127.0.0.7", 1, stack)
        async with contextlib.AsyncExitStack() as stack:
            other = await open_sockets(ws_proxy, "127.0.0.8", 1, stack)
        return statuses, other

    statuses, other = async_to_sync(scenario)()

    assert statuses[-1] == 429
    assert statuses[:100] == [101] * 100
    assert other == [101]
