"""A user's open sockets end when the user logs out or their credentials change (prices.signals).

Real daphne on each channel layer, a real browser session, the real logout view.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import websockets
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.test import Client
from django.urls import reverse
from websockets.frames import Close

from accounts.signals import credentials_changed
from common.live_groups import user_group
from prices.tests.socket_flood import messages_until_closed
from prices.tests.test_live_server import (  # noqa: F401 (fixtures)
    daphne_of_layer,
    daphne_on_each_layer,
)
from tests_support.live_server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0
ALERT = {"id": 1, "event_id": 2, "coin": "bitcoin", "message": "Bitcoin above 30,000"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cookie_of(client: Client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def open_socket(server: LiveServer, client: Client):
    return websockets.connect(
        f"{server.ws_url}/ws/prices/",
        origin=f"http://127.0.0.1:{server.port}",
        additional_headers={"Cookie": cookie_of(client)},
        open_timeout=TIMEOUT,
        proxy=None,
    )


async def what_follows(
    server: LiveServer, user, client: Client, let_go
) -> tuple[list, Close | None]:
    """Open the user's socket, `let_go()`, send them an alert: what the socket got, its close."""
    async with open_socket(server, client) as socket:
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


def test_a_browser_reconnecting_the_moment_its_socket_closes_on_logout_is_anonymous(
    daphne_on_each_layer,  # noqa: F811
    owner,
):
    # Django sends user_logged_out before it flushes the session. Whatever
    # runs between the two (here: a receiver after ours that waits until the
    # browser has reconnected) left the old session valid for the reconnect.
    browser = signed_in(owner)
    reconnected = threading.Event()

    def hold_until_reconnected(**kwargs) -> None:
        reconnected.wait(TIMEOUT)

    async def scenario() -> tuple[Close | None, list, Close | None]:
        async with open_socket(daphne_on_each_layer, browser) as socket:
            assert json.loads(await socket.recv())["type"] == "snapshot"
            logout = asyncio.create_task(sync_to_async(browser.post)(reverse("account_logout")))
            _, closed = await messages_until_closed(socket)
        try:
            async with open_socket(daphne_on_each_layer, browser) as again:
                assert json.loads(await again.recv())["type"] == "snapshot"
                reconnected.set()
                assert (await logout).status_code == 302
                await get_channel_layer().group_send(
                    user_group(owner.pk), {"type": "user.alert", "alert": ALERT}
                )
                return closed, *await messages_until_closed(again, seconds=2)
        finally:
            reconnected.set()

    user_logged_out.connect(hold_until_reconnected, dispatch_uid="test.hold_until_reconnected")
    try:
        closed, messages, still = async_to_sync(scenario)()
    finally:
        user_logged_out.disconnect(dispatch_uid="test.hold_until_reconnected")

    assert closed is not None
    assert (closed.code, closed.reason) == (4001, "signed out")
    assert messages == []  # no alert popup of the user's: the socket is anonymous
    assert still is None
