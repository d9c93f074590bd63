"""A user's open sockets end when the user logs out or their credentials change (prices.signals).

Real daphne on each channel layer, a real browser session, the real logout view.
"""

from __future__ import annotations

import json

import pytest
import websockets
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client
from django.urls import reverse
from websockets.frames import Close

from accounts.signals import credentials_changed
from cryptomonitor.testing.live_server import LiveServer
from prices.live import user_group
from prices.tests.socket_flood import messages_until_closed
from prices.tests.test_live_server import daphne_on_each_layer  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0
ALERT = {"id": 1, "event_id": 2, "coin": "bitcoin", "message": "Bitcoin above 30,000"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cookie_of(client: Client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def what_follows(
    server: LiveServer, user, client: Client, let_go
) -> tuple[list, Close | None]:
    """Open the user's socket, `let_go()`, send them an alert: what the socket got, its close."""
    async with websockets.connect(
        f"{server.ws_url}/ws/prices/",
        origin=f"http://127.0.0.1:{server.port}",
        additional_headers={"Cookie": cookie_of(client)},
        open_timeout=TIMEOUT,
        proxy=None,
    ) as socket:
        assert json.loads(await socket.recv())["type"] == "snapshot"
        await sync_to_async(let_go)()
        await get_channel_layer().group_send(
            user_group(user.pk), {"type": "user.alert", "alert": ALERT}
        )
        return await messages_until_closed(socket)


def test_logging_out_closes_the_users_open_socket(daphne_on_each_layer, owner):  # noqa: F811
    browser = signed_in(owner)

    def log_out() -> None:
        assert browser.post(reverse("account_logout")).status_code == 302

    messages, closed = async_to_sync(what_follows)(daphne_on_each_layer, owner, browser, log_out)

    assert messages == []
    assert closed is not None
    assert (closed.code, closed.reason) == (4001, "signed out")


def test_changed_credentials_close_the_users_open_socket(daphne_on_each_layer, owner):  # noqa: F811
    browser = signed_in(owner)

    def change() -> None:
        credentials_changed.send(sender=type(owner), user=owner)

    messages, closed = async_to_sync(what_follows)(daphne_on_each_layer, owner, browser, change)

    assert messages == []
    assert closed is not None
    assert (closed.code, closed.reason) == (4001, "credentials changed")
