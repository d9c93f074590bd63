"""A proxy in the worker's environment does not carry webhooks past the egress policy.

httpx reads HTTP_PROXY and friends from the environment by default: the
guard then saw only the proxy's address, never the receiver's. Webhooks
connect to the receiver directly. (Apprise sends through requests, which
reads them too: docs/security.md says a proxy there takes over enforcement.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notifications.delivery import deliver
from notifications.models import DeliveryStatus, NotificationSettings
from notifications.tests.egress_plan import (
    PRIVATE,
    PUBLIC,
    HttpServer,
    public_loopback,
    started_servers,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def servers() -> Iterator[list[HttpServer]]:
    yield from started_servers()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_a_webhook_goes_to_its_receiver_not_to_a_proxy_from_the_environment(
    owner, fire, monkeypatch, servers, variable
):
    public_loopback(monkeypatch, PUBLIC)
    receiver, proxy = HttpServer(PUBLIC), HttpServer(PRIVATE)
    servers.extend([receiver, proxy])
    monkeypatch.setenv(variable, f"http://{PRIVATE}:{proxy.port}")
    config = NotificationSettings.for_user(owner)
    config.webhook_url = receiver.url
    config.save()
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT
    assert proxy.requests == []
    assert [request["path"] for request in receiver.requests] == ["/hook"]
