"""docker/nginx.conf in front of the real web and ws servers, as docker-compose.yml runs them.

The two servers start with the exact commands of compose's `web` and `ws`
services (only the address and port rewritten), nginx with the production
config (only upstream addresses, port and paths rewritten): a page of the
API and a WebSocket upgrade both go through. Skipped when nginx is not
installed, except in CI (CI=true), where a missing nginx fails the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import websockets
import yaml
from asgiref.sync import async_to_sync

from accounts.models import ApiToken
from alerts.models import Alert
from cryptomonitor.testing.live_server import current_database_url
from cryptomonitor.testing.nginx import (
    free_port,
    nginx_binary,
    render_config,
    running_nginx,
    running_process,
)
from prices.models import Coin

BASE_DIR = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

if nginx_binary() is None and os.environ.get("CI") != "true":
    pytestmark.append(pytest.mark.skip(reason="nginx is not installed (apt-get install nginx)"))


def compose_command(service: str, listen_port: str, port: int) -> list[str]:
    """docker-compose.yml's command of `service`, on 127.0.0.1:`port` instead."""
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    # Compose's ${NAME:-default} substitutions take their defaults.
    command = [
        re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", part)
        for part in compose["services"][service]["command"]
    ]
    assert "0.0.0.0" in command and listen_port in command
    return [{"0.0.0.0": "127.0.0.1", listen_port: str(port)}.get(part, part) for part in command]


@pytest.fixture
def proxy(tmp_path) -> Iterator[int]:
    """nginx in front of compose's web and ws commands; yields nginx's port."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings_test",
        "TEST_DATABASE_URL": current_database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    ports = {"web": free_port(), "ws": free_port()}
    with ExitStack() as stack:
        for service, listen_port in (("web", "8000"), ("ws", "8001")):
            command = compose_command(service, listen_port, ports[service])
            log = tmp_path / f"{service}.log"
            stack.enter_context(
                running_process(command, ports[service], log, cwd=BASE_DIR, env=env)
            )
        yield stack.enter_context(
            running_nginx(f"127.0.0.1:{ports['web']}", f"127.0.0.1:{ports['ws']}", tmp_path)
        )


def test_the_config_passes_nginx_t(tmp_path):
    config = render_config("127.0.0.1:1", "127.0.0.1:2", free_port(), tmp_path)

    result = subprocess.run(
        [nginx_binary(), "-t", "-c", str(config), "-e", "stderr"], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr


def test_an_api_read_goes_to_the_wsgi_server(proxy, owner):
    coin = Coin.objects.create(coingecko_id="bitcoin", symbol="btc", name="Bitcoin")
    for target in ("70000", "80000"):
        Alert.objects.create(user=owner, coin=coin, condition="above", target=Decimal(target))
    _, key = ApiToken.issue(owner, "proxy test")

    response = httpx.get(
        f"http://127.0.0.1:{proxy}/api/v1/alerts/?page_size=1",
        headers={"Authorization": f"Token {key}"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["target"] for item in body["results"]] == ["80000"]
    # The Host header passes with its port: links lead back through the proxy.
    assert body["next"].startswith(f"http://127.0.0.1:{proxy}/api/v1/alerts/")


def test_a_websocket_upgrade_goes_to_daphne(proxy):
    async def snapshot() -> dict:
        async with websockets.connect(
            f"ws://127.0.0.1:{proxy}/ws/prices/",
            origin=f"http://127.0.0.1:{proxy}",
            open_timeout=10,
            proxy=None,
        ) as ws:
            async with asyncio.timeout(10):
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == "snapshot":
                        return message

    assert "coins" in async_to_sync(snapshot)()


def test_nginx_answers_its_own_health_check(proxy):
    assert httpx.get(f"http://127.0.0.1:{proxy}/nginx-health").text == "ok\n"


def test_a_stopped_upstream_is_a_502_not_a_hang(tmp_path):
    with running_nginx("127.0.0.1:9", "127.0.0.1:9", tmp_path) as port:
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/coins/", timeout=10).status_code == 502
