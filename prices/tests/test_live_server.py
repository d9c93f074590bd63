"""Real daphne, real Redis channel layer, real WebSocket client: ticks reach browsers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import websockets
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from prices.polling import LOCK_KEY, poll_once
from prices.tests.pipeline import alert_batches  # noqa: F401 (fixture)
from prices.tests.test_consumers import LAYERS
from tests_support.live_server import LiveServer, current_database_url, running_daphne

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    # Record alert batches instead of leaving them on the broker.
    pytest.mark.usefixtures("alert_batches"),
]

RECEIVE_TIMEOUT_SECONDS = 10.0


async def next_message(socket, of_type: str) -> dict:
    """The next message of a type; a live socket may see others first (pongs, batches)."""
    async with asyncio.timeout(RECEIVE_TIMEOUT_SECONDS):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == of_type:
                return message


def connect(server: LiveServer, **headers: str):
    return websockets.connect(
        f"{server.ws_url}/ws/prices/",
        origin=f"http://127.0.0.1:{server.port}",
        additional_headers=headers or None,
        open_timeout=RECEIVE_TIMEOUT_SECONDS,
        proxy=None,
    )


@pytest.fixture(scope="module", params=list(LAYERS))
def daphne_of_layer(request, django_db_setup) -> Iterator[tuple[str, LiveServer]]:
    """One daphne on each layer for a module (pytest runs its tests layer by layer)."""
    backend = LAYERS[request.param]
    env = {"TEST_DATABASE_URL": current_database_url(), "CHANNEL_LAYER_BACKEND": backend}
    with running_daphne(env) as server:
        yield backend, server


@pytest.fixture
def daphne_on_each_layer(daphne_of_layer, settings, transactional_db) -> LiveServer:
    """A daphne on the test layer, then on the production default (pub/sub); the
    test publishes on the same layer.
    """
    backend, server = daphne_of_layer
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]  # the daphne's too
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": backend,
            "CONFIG": {"hosts": settings.CHANNEL_LAYER_HOSTS, "prefix": prefix},
        }
    }
    return server


@pytest.fixture
def live_daphne(module_daphne, transactional_db) -> LiveServer:
    """One daphne for the module's tests on the test settings' layer."""
    return module_daphne


def test_a_poll_reaches_a_connected_browser(daphne_on_each_layer, fake_coingecko):
    live_daphne = daphne_on_each_layer
    cache.delete(LOCK_KEY)
    assert poll_once().ok

    async def scenario() -> tuple[dict, dict, Decimal]:
        async with connect(live_daphne) as socket:
            snapshot = await next_message(socket, "snapshot")
            new_price = fake_coingecko.move("bitcoin", 5)
            report = await sync_to_async(poll_once)()
            assert report.ok, report.summary()
            return snapshot, await next_message(socket, "prices"), new_price

    snapshot, update, new_price = async_to_sync(scenario)()
    before = {coin["id"]: coin["price"] for coin in snapshot["coins"]}
    assert set(before) == set(settings.TRACKED_COINS)
    changed = [dict(zip(update["fields"], row, strict=True)) for row in update["coins"]]
    assert [coin["id"] for coin in changed] == ["bitcoin"]
    assert Decimal(changed[0]["price"]) == new_price != Decimal(before["bitcoin"])
    assert update["polled_at"]


def test_a_logged_in_browser_gets_its_own_alerts_over_daphne(live_daphne, owner, stranger):
    def session_cookie(user) -> str:
        client = Client()
        client.force_login(user)
        return (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )

    alice_cookie, mallory_cookie = session_cookie(owner), session_cookie(stranger)
    alert = {"id": 1, "event_id": 2, "coin": "bitcoin", "message": "Bitcoin above 30,000"}

    async def scenario() -> tuple[dict, bool]:
        async with (
            connect(live_daphne, Cookie=alice_cookie) as alice,
            connect(live_daphne, Cookie=mallory_cookie) as mallory,
        ):
            await next_message(alice, "snapshot")
            await next_message(mallory, "snapshot")
            await get_channel_layer().group_send(
                f"user.{owner.pk}", {"type": "user.alert", "alert": alert}
            )
            popup = await next_message(alice, "alert")
            # A ping round trip after the alert proves nothing was queued for mallory.
            await mallory.send(json.dumps({"type": "ping"}))
            async with asyncio.timeout(RECEIVE_TIMEOUT_SECONDS):
                return popup, json.loads(await mallory.recv()) == {"type": "pong"}

    popup, stranger_saw_only_pong = async_to_sync(scenario)()
    assert popup == {"type": "alert", **alert}
    assert stranger_saw_only_pong


def test_a_foreign_page_cannot_open_the_socket(live_daphne):
    async def scenario() -> int:
        try:
            async with websockets.connect(
                f"{live_daphne.ws_url}/ws/prices/", origin="https://evil.example", proxy=None
            ):
                return 101
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    assert async_to_sync(scenario)() == 403
