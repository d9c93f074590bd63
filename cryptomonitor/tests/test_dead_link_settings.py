"""The dead-link bounds: refused when they would not bound, and on each Redis client's sockets.

The bounds' effect on a cut link is in test_dead_links.py (it needs root);
these run anywhere. The settings module is executed afresh for the values
it must refuse, as test_production_settings.py does.
"""

from __future__ import annotations

import runpy
import socket
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels_redis.utils import create_pool, decode_hosts
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parents[1] / "settings.py"

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "TCP_USER_TIMEOUT"), reason="TCP_USER_TIMEOUT is Linux's"
)


def test_a_database_bound_under_two_seconds_stops_the_start(monkeypatch):
    # 0 would be libpq's "no bound": the 15-minute wait this setting removes.
    monkeypatch.setenv("DATABASE_DEAD_LINK_SECONDS", "0")

    with pytest.raises(ImproperlyConfigured, match="DATABASE_DEAD_LINK_SECONDS"):
        runpy.run_path(str(SETTINGS))


def test_a_redis_bound_within_the_channel_layers_blocking_read_stops_the_start(monkeypatch):
    monkeypatch.setenv("REDIS_DEAD_LINK_SECONDS", "5")

    with pytest.raises(ImproperlyConfigured, match="REDIS_DEAD_LINK_SECONDS"):
        runpy.run_path(str(SETTINGS))


def user_timeout_ms(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)


def test_the_caches_sockets_give_up_on_a_dead_link_within_the_bound():
    client = cache._cache.get_client(write=True)
    connection = client.connection_pool.get_connection()
    try:
        connection.connect()
        assert user_timeout_ms(connection._sock) == settings.REDIS_DEAD_LINK_SECONDS * 1000
    finally:
        client.connection_pool.release(connection)


def test_the_channel_layers_sockets_give_up_on_a_dead_link_within_the_bound():
    # The pool every channels-redis layer makes from CHANNEL_LAYER_HOSTS.
    async def timeout_of_a_layer_socket() -> int:
        pool = create_pool(decode_hosts(settings.CHANNEL_LAYER_HOSTS)[0])
        connection = await pool.get_connection()
        try:
            return user_timeout_ms(connection._writer.transport.get_extra_info("socket"))
        finally:
            await pool.release(connection)
            await pool.disconnect()

    assert async_to_sync(timeout_of_a_layer_socket)() == settings.REDIS_DEAD_LINK_SECONDS * 1000
