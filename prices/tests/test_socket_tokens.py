"""Scripts open /ws/prices/ with an API token (cryptomonitor/websocket_auth.py, docs/websocket.md).

A real daphne, the real Redis channel layer, the `websockets` client a
script would use. Alerts are sent as in-app popups are
(notifications/transports/in_app.py): group_send to the user's group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from asyncio.subprocess import PIPE

import pytest
import websockets
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse
from websockets.frames import Close

from accounts.models import ApiToken
from common.live_groups import user_group
from cryptomonitor.websocket_auth import TokenAuthority
from prices.consumers import PriceConsumer
from prices.tests.socket_flood import messages_until_closed
from tests_support.live_server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0


DOCS = settings.BASE_DIR / "docs"
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def alert(alert_id: int) -> dict:
    return {
        "id": alert_id,
        "event_id": alert_id * 10,
        "coin": "Bitcoin",
        "message": "Price 30001.5 is at or above 30000.",
        "url": f"/alerts/{alert_id}/",
    }


def connect(server: LiveServer, path: str = "/ws/prices/", **options):
    """A script's socket: no Origin unless given, headers as given."""
    return websockets.connect(
        f"{server.ws_url}{path}", open_timeout=TIMEOUT, proxy=None, ping_interval=None, **options
    )


def with_token(key: str, scheme: str = "Token") -> dict:
    return {"additional_headers": {"Authorization": f"{scheme} {key}"}}


def session_cookie(user) -> str:
    browser = Client()
    browser.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"


async def next_json(socket) -> dict:
    async with asyncio.timeout(TIMEOUT):
        return json.loads(await socket.recv())


async def send_alerts(*to: tuple[int, dict]) -> None:
    for user_id, popup in to:
        await get_channel_layer().group_send(
            user_group(user_id), {"type": "user.alert", "alert": popup}
        )


async def alerts_heard(socket, seconds: float = 1.0) -> tuple[list[int], Close | None]:
    """The ids of the alerts the socket gets within `seconds`, and how it closed."""
    messages, closed = await messages_until_closed(socket, seconds=seconds)
    return [message["id"] for message in messages if message["type"] == "alert"], closed


async def heard_after(server: LiveServer, key: str, user, let_go, seconds: float = 1.0):
    """Open a socket with the token, `let_go()`, send the user an alert: what the socket heard."""
    async with connect(server, **with_token(key)) as socket:
        assert (await next_json(socket))["type"] == "snapshot"
        await sync_to_async(let_go)()
        await send_alerts((user.pk, alert(1)))
        return await alerts_heard(socket, seconds=seconds)


@pytest.fixture
def live_daphne(module_daphne, transactional_db) -> LiveServer:
    """One daphne for the module: these tests keep nothing in its process."""
    return module_daphne


@pytest.fixture
def key(owner) -> str:
    return ApiToken.issue(owner, "price bot")[1]


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_a_token_in_the_header_hears_its_users_alerts_and_no_one_elses(
    live_daphne, owner, stranger, key, scheme
):
    async def scenario():
        async with connect(live_daphne, **with_token(key, scheme)) as socket:
            assert (await next_json(socket))["type"] == "snapshot"
            await send_alerts((stranger.pk, alert(2)), (owner.pk, alert(1)))
            return await alerts_heard(socket)

    assert async_to_sync(scenario)() == ([1], None)


def test_a_token_in_the_header_records_its_use(live_daphne, key):
    async def scenario():
        async with connect(live_daphne, **with_token(key)) as socket:
            await next_json(socket)

    async_to_sync(scenario)()

    assert ApiToken.objects.get().last_used_at is not None


def test_an_auth_message_makes_a_socket_without_headers_its_users(live_daphne, owner, key):
    async def scenario():
        async with connect(live_daphne) as socket:
            assert (await next_json(socket))["type"] == "snapshot"
            await send_alerts((owner.pk, alert(1)))
            before = await alerts_heard(socket)
            await socket.send(json.dumps({"type": "auth", "token": key}))
            answer = await next_json(socket)
            await send_alerts((owner.pk, alert(3)))
            return before, answer, await alerts_heard(socket)

    before, answer, after = async_to_sync(scenario)()

    assert before == ([], None)  # anonymous until then: prices only
    assert answer == {"type": "authenticated"}
    assert after == ([3], None)


def test_a_browser_page_may_authenticate_its_anonymous_socket_by_message(live_daphne, owner, key):
    origin = f"http://127.0.0.1:{live_daphne.port}"

    async def scenario():
        async with connect(live_daphne, origin=origin) as socket:
            await next_json(socket)
            await socket.send(json.dumps({"type": "auth", "token": key}))
            answer = await next_json(socket)
            await send_alerts((owner.pk, alert(1)))
            return answer, await alerts_heard(socket)

    assert async_to_sync(scenario)() == ({"type": "authenticated"}, ([1], None))


def test_a_wrong_token_in_the_header_is_closed_with_4003_before_any_price(live_daphne, key):
    async def scenario():
        async with connect(live_daphne, **with_token(key + "x")) as socket:
            return await messages_until_closed(socket)

    messages, closed = async_to_sync(scenario)()

    assert messages == []
    assert (closed.code, closed.reason) == (4003, "invalid or revoked token")


def test_a_revoked_token_in_the_header_is_closed_with_4003(live_daphne, key):
    ApiToken.objects.get().revoke()

    async def scenario():
        async with connect(live_daphne, **with_token(key)) as socket:
            return await messages_until_closed(socket)

    messages, closed = async_to_sync(scenario)()

    assert messages == []
    assert (closed.code, closed.reason) == (4003, "invalid or revoked token")


def test_a_header_without_a_key_is_closed_with_4003_and_says_what_is_expected(live_daphne):
    async def scenario():
        async with connect(live_daphne, additional_headers={"Authorization": "Token"}) as socket:
            return await messages_until_closed(socket)

    messages, closed = async_to_sync(scenario)()

    assert messages == []
    assert closed.code == 4003
    assert closed.reason == "invalid Authorization header: expected 'Token <key>' or 'Bearer <key>'"


@pytest.mark.parametrize("token", ["wrong", "", 42, None])
def test_an_auth_message_with_a_wrong_token_closes_the_socket_with_4003(live_daphne, token):
    async def scenario():
        async with connect(live_daphne) as socket:
            await next_json(socket)
            await socket.send(json.dumps({"type": "auth", "token": token}))
            return await messages_until_closed(socket)

    messages, closed = async_to_sync(scenario)()

    assert messages == []
    assert (closed.code, closed.reason) == (4003, "invalid or revoked token")


@pytest.mark.parametrize("parameter", ["token", "access_token", "TOKEN"])
def test_a_token_in_the_url_is_refused_even_a_valid_one(live_daphne, owner, key, parameter):
    async def scenario():
        async with connect(live_daphne, f"/ws/prices/?{parameter}={key}") as socket:
            return await messages_until_closed(socket)

    messages, closed = async_to_sync(scenario)()

    assert messages == []
    assert closed.code == 4003
    assert closed.reason == (
        "send the token in the Authorization header or an auth message, not the URL"
    )


def test_an_auth_message_on_an_authenticated_socket_gets_an_error(live_daphne, key):
    async def scenario():
        async with connect(live_daphne, **with_token(key)) as socket:
            await next_json(socket)
            await socket.send(json.dumps({"type": "auth", "token": key}))
            return await messages_until_closed(socket, seconds=1)

    messages, closed = async_to_sync(scenario)()

    assert messages == [{"type": "error", "message": "already authenticated"}]
    assert closed is None


def test_a_session_cookie_without_an_origin_gets_prices_but_not_the_users_alerts(
    live_daphne, owner
):
    # What the Origin check stops: a cookie sent by itself authenticating a
    # socket. Without an Origin (no browser sends none) the cookie is ignored.
    cookie = {"Cookie": session_cookie(owner)}
    own_origin = f"http://127.0.0.1:{live_daphne.port}"

    async def heard(**origin: str):
        async with connect(live_daphne, additional_headers=cookie, **origin) as socket:
            assert (await next_json(socket))["type"] == "snapshot"
            await send_alerts((owner.pk, alert(1)))
            return await alerts_heard(socket)

    assert async_to_sync(heard)() == ([], None)
    assert async_to_sync(heard)(origin=own_origin) == ([1], None)  # the same cookie, a browser


def test_a_token_in_the_header_wins_over_the_session_cookie(live_daphne, owner, stranger, key):
    headers = {"Cookie": session_cookie(stranger), "Authorization": f"Token {key}"}
    origin = f"http://127.0.0.1:{live_daphne.port}"

    async def scenario():
        async with connect(live_daphne, origin=origin, additional_headers=headers) as socket:
            await next_json(socket)
            await send_alerts((stranger.pk, alert(2)), (owner.pk, alert(1)))
            return await alerts_heard(socket)

    assert async_to_sync(scenario)() == ([1], None)


def test_a_browsers_basic_credentials_leave_its_session_socket_alone(live_daphne, owner):
    # A site behind a password prompt: the browser sends Basic credentials
    # with the handshake. Not the API's scheme, so not a token.
    headers = {"Cookie": session_cookie(owner), "Authorization": "Basic dXNlcjpwYXNz"}
    origin = f"http://127.0.0.1:{live_daphne.port}"

    async def scenario():
        async with connect(live_daphne, origin=origin, additional_headers=headers) as socket:
            await next_json(socket)
            await send_alerts((owner.pk, alert(1)))
            return await alerts_heard(socket)

    assert async_to_sync(scenario)() == ([1], None)


def test_a_foreign_origin_is_refused_at_the_handshake_even_with_a_valid_token(live_daphne, key):
    async def scenario():
        async with connect(live_daphne, origin="https://evil.example", **with_token(key)):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        async_to_sync(scenario)()

    assert refused.value.response.status_code == 403


def test_a_foreign_origin_beside_our_own_is_refused_at_the_handshake(key):
    from cryptomonitor.asgi import application  # daphne's application, loaded once

    async def scenario():
        socket = WebsocketCommunicator(
            application,
            "/ws/prices/",
            headers=[
                (b"host", b"localhost"),
                (b"origin", b"https://evil.example"),
                (b"origin", b"http://localhost:8000"),
                (b"authorization", f"Token {key}".encode()),
            ],
        )
        accepted, _ = await socket.connect(TIMEOUT)
        await socket.disconnect()
        return accepted

    assert async_to_sync(scenario)() is False


def test_revoking_the_token_on_its_page_closes_its_socket_with_4001(live_daphne, owner, key):
    browser = Client()
    browser.force_login(owner)
    token = ApiToken.objects.get()

    def revoke() -> None:
        response = browser.post(reverse("accounts:token-revoke", args=[token.pk]))
        assert response.status_code == 302

    heard, closed = async_to_sync(heard_after)(live_daphne, key, owner, revoke, TIMEOUT)

    assert heard == []
    assert (closed.code, closed.reason) == (4001, "token revoked")


def test_revoking_a_token_leaves_the_sockets_of_the_users_other_token_open(live_daphne, owner, key):
    other, other_key = ApiToken.issue(owner, "other bot")
    revoked = ApiToken.objects.exclude(pk=other.pk).get()

    async def scenario():
        async with (
            connect(live_daphne, **with_token(key)) as doomed,
            connect(live_daphne, **with_token(other_key)) as kept,
        ):
            await next_json(doomed)
            await next_json(kept)
            await sync_to_async(revoked.revoke)()
            _, closed = await messages_until_closed(doomed)
            await send_alerts((owner.pk, alert(1)))
            return closed, await alerts_heard(kept)

    closed, heard = async_to_sync(scenario)()

    assert closed.code == 4001
    assert heard == ([1], None)


def test_a_token_revoked_by_message_auth_closes_that_socket_too(live_daphne, owner, key):
    token = ApiToken.objects.get()

    async def scenario():
        async with connect(live_daphne) as socket:
            await next_json(socket)
            await socket.send(json.dumps({"type": "auth", "token": key}))
            assert (await next_json(socket))["type"] == "authenticated"
            await sync_to_async(token.revoke)()
            return await messages_until_closed(socket)

    messages, closed = async_to_sync(scenario)()

    assert messages == []
    assert (closed.code, closed.reason) == (4001, "token revoked")


class RevokedInBetween(TokenAuthority):
    """Revokes the token just after it was found valid, before the socket joins its group:
    the revocation's close went to a group the socket was not in yet."""

    async def authenticate(self, key: str) -> ApiToken | None:
        token = await super().authenticate(key)
        await ApiToken.objects.filter(pk=token.pk).aupdate(revoked_at=token.created_at)
        return token


def test_a_token_revoked_while_its_socket_joins_its_group_is_refused(owner, key):
    scope = {"user": AnonymousUser(), "api_tokens": RevokedInBetween(), "api_token_key": key}

    async def scenario():
        socket = WebsocketCommunicator(PriceConsumer.as_asgi(), "/ws/prices/")
        socket.scope.update(scope)
        await socket.connect(TIMEOUT)
        closed = await socket.receive_output(TIMEOUT)
        await socket.disconnect()
        return closed

    closed = async_to_sync(scenario)()

    assert closed == {"type": "websocket.close", "code": 4003, "reason": "invalid or revoked token"}


def test_a_logout_in_a_browser_leaves_the_users_token_socket_open(live_daphne, owner, key):
    browser = Client()
    browser.force_login(owner)

    def log_out() -> None:
        assert browser.post(reverse("account_logout")).status_code == 302

    assert async_to_sync(heard_after)(live_daphne, key, owner, log_out) == ([1], None)


def test_a_new_password_closes_the_users_token_sockets(live_daphne, owner, key):
    def change_password() -> None:
        owner.set_password("a-new-password-456")
        owner.save()

    heard, closed = async_to_sync(heard_after)(live_daphne, key, owner, change_password, TIMEOUT)

    assert heard == []
    assert (closed.code, closed.reason) == (4001, "credentials changed")


def test_deactivating_an_account_closes_its_token_sockets(live_daphne, owner, key):
    def deactivate() -> None:
        owner.is_active = False
        owner.save()

    heard, closed = async_to_sync(heard_after)(live_daphne, key, owner, deactivate, TIMEOUT)

    assert heard == []
    assert (closed.code, closed.reason) == (4001, "account deactivated")


def test_a_token_client_flooding_its_socket_is_closed_with_1008_as_browsers_are(live_daphne, key):
    async def scenario():
        async with connect(live_daphne, **with_token(key)) as socket:
            await next_json(socket)
            for _ in range(40):
                await socket.send(json.dumps({"type": "ping"}))
            return await messages_until_closed(socket)

    messages, closed = async_to_sync(scenario)()

    assert {message["type"] for message in messages} <= {"pong"}
    assert (closed.code, closed.reason) == (1008, "more than 20 messages at once or 5 a second")


def documented_client(page: str) -> str:
    """The page's Python client: its code block that opens the socket with a token."""
    (code,) = [
        block
        for block in PYTHON_BLOCK.findall((DOCS / page).read_text())
        if "additional_headers" in block
    ]
    return code


def test_the_documented_client_prints_its_alerts_and_stops_once_its_token_is_revoked(
    live_daphne, owner, key
):
    code = documented_client("websocket.md")
    assert documented_client("api.md") == code
    token = ApiToken.objects.get()
    env = {
        **os.environ,
        "TOKEN": key,
        "CM_WS": f"{live_daphne.ws_url}/ws/prices/",
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }

    async def scenario() -> tuple[bytes, int, bytes]:
        script = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, env=env, stdout=PIPE, stderr=PIPE
        )
        try:
            async with asyncio.timeout(TIMEOUT):
                printed = b""
                while not printed:  # alerts sent before it connected reach no one
                    await send_alerts((owner.pk, alert(1)))
                    with contextlib.suppress(TimeoutError):
                        printed = await asyncio.wait_for(script.stdout.readline(), 0.5)
                await sync_to_async(token.revoke)()
                return printed, await script.wait(), await script.stderr.read()
        finally:
            if script.returncode is None:
                script.kill()
                await script.wait()

    printed, exit_code, stderr = async_to_sync(scenario)()

    assert printed == b"Bitcoin Price 30001.5 is at or above 30000. /alerts/1/\n"
    assert (exit_code, stderr) == (1, b"token revoked\n")
