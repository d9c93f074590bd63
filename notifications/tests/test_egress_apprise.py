"""Apprise sends under the egress policy: every hop and every plugin, within one deadline.

The address plan (egress_plan.py): 127.0.0.2 plays a public host, 127.0.0.1
the private network or metadata service; nothing leaves loopback.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from notifications.delivery import deliver, send_test_notifications
from notifications.models import DeliveryStatus, NotificationSettings
from notifications.tests.egress_plan import (
    PRIVATE,
    PUBLIC,
    HttpServer,
    public_loopback,
    rebinding_names,
    started_servers,
    tarpit,
)

pytestmark = pytest.mark.django_db

REFUSED = (
    "permanent: Apprise: 127.0.0.1 is a loopback address; notifications go to public hosts "
    "only (set OUTBOUND_ALLOW_PRIVATE_IPS=True to allow your own network)"
)
TIMEOUT = 1.0
# What a send may take past TIMEOUT: the guard cuts its sockets within
# milliseconds; the rest is room for a busy test machine.
SLACK = 0.5


@pytest.fixture(autouse=True)
def plan(monkeypatch) -> None:
    public_loopback(monkeypatch, PUBLIC)


servers = pytest.fixture(started_servers, name="servers")


def use_apprise(user, *urls: str) -> None:
    NotificationSettings.objects.update_or_create(
        user=user, defaults={"apprise_urls": "\n".join(urls)}
    )


def assert_refused(owner, fire, *urls: str) -> None:
    """An alert sent to Apprise `urls` fails for good, with the refusal naming the setting."""
    use_apprise(owner, *urls)
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert delivery.last_error == REFUSED


def json_url(server: HttpServer) -> str:
    return server.url.replace("http://", "json://")


def redirect_to_metadata(servers) -> tuple[HttpServer, HttpServer]:
    """A "public" server answering 307 to a private one (the metadata service)."""
    metadata = HttpServer(PRIVATE)
    public = HttpServer(PUBLIC, [(307, {"Location": f"{metadata.url}/latest/meta-data"})])
    servers += [metadata, public]
    return public, metadata


@pytest.mark.parametrize("sent_as", ["alert", "test notification"])
def test_a_redirect_to_a_private_address_is_refused_at_connect_time(servers, owner, fire, sent_as):
    # Apprise checked nothing past the first host and followed the 307: "sent".
    public, metadata = redirect_to_metadata(servers)
    use_apprise(owner, json_url(public))
    if sent_as == "alert":
        [delivery] = fire(owner, channels=["apprise"])
    else:
        [delivery] = send_test_notifications(owner, ["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert delivery.last_error == REFUSED
    assert len(public.requests) == 1
    assert metadata.requests == []


def test_every_url_of_a_send_is_guarded_however_apprise_dispatches_them(servers, owner, fire):
    # Apprise hands services to its thread pools: the guard goes with them.
    public, metadata = redirect_to_metadata(servers)
    fine = HttpServer(PUBLIC)
    servers.append(fine)

    assert_refused(owner, fire, json_url(fine), json_url(public), json_url(fine))
    assert metadata.requests == []


def test_a_retry_goes_through_the_policy_too(servers, owner, fire):
    # The first attempt fails (500); by the retry the host redirects.
    public, metadata = redirect_to_metadata(servers)
    public.script = [(500, {}), *public.script]
    use_apprise(owner, json_url(public))
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert delivery.last_error == REFUSED
    assert metadata.requests == []


def test_a_name_that_rebinds_to_a_private_address_is_refused(servers, monkeypatch, owner, fire):
    # Checks see the public address; the lookup made to connect gets the private one.
    metadata = HttpServer(PRIVATE)
    servers.append(metadata)
    rebinding_names(monkeypatch, {"rebind.test": (PUBLIC, PRIVATE)})

    assert_refused(owner, fire, f"json://rebind.test:{metadata.port}/hook")
    assert metadata.requests == []


def test_an_email_service_is_refused_at_connect_time_too(smtp, monkeypatch, owner, fire):
    # Not HTTP: Apprise's mailto:// speaks SMTP to a server that rebinds to loopback.
    rebinding_names(monkeypatch, {"mail.test": (PUBLIC, PRIVATE)})

    assert_refused(
        owner, fire, f"mailto://user:pw@mail.test:{smtp.port}?to=b@mail.test&from=a@mail.test"
    )
    assert smtp.connections == 0
    assert smtp.messages == []


@pytest.fixture
def silent_server() -> Iterator[Callable[[str], int]]:
    """Servers on the public address that never answer: `accepting` takes the
    connection and says nothing; `connecting` never completes it."""
    held = []

    def start(kind: str) -> int:
        if kind == "accepting":
            listener, accepted = tarpit(PUBLIC)
            held.extend([listener, accepted])
            return listener.getsockname()[1]
        listener = socket.create_server((PUBLIC, 0), backlog=0)
        port = listener.getsockname()[1]
        # The backlog of one is taken: the kernel drops every later SYN.
        held.extend([listener, socket.create_connection((PUBLIC, port), timeout=5)])
        return port

    yield start
    for item in held:
        for sock in item if isinstance(item, list) else [item]:
            sock.close()


@pytest.mark.parametrize("kind", ["accepting", "connecting"])
def test_a_urls_own_timeouts_cannot_hold_the_worker_past_the_deadline(
    silent_server, owner, fire, settings, kind
):
    # ?rto=60&cto=60 used to hold the worker 60 s per send.
    settings.OUTBOUND_TIMEOUT_SECONDS = TIMEOUT
    port = silent_server(kind)
    use_apprise(owner, f"json://{PUBLIC}:{port}/hook?rto=60&cto=60&retry=5")
    [delivery] = fire(owner, channels=["apprise"])

    started = time.monotonic()
    assert deliver(delivery.pk) == DeliveryStatus.PENDING  # retried, like any timeout
    elapsed = time.monotonic() - started

    assert elapsed < TIMEOUT + SLACK
    delivery.refresh_from_db()
    assert delivery.last_error == "Apprise did not finish within 1 s"


def test_the_opt_in_lets_apprise_reach_the_own_network(servers, owner, fire, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    receiver = HttpServer(PRIVATE)
    servers.append(receiver)
    use_apprise(owner, json_url(receiver))
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT
    assert len(receiver.requests) == 1
