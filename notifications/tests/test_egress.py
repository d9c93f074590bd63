"""The egress policy: which addresses a send may reach, checked on every connection.

Apprise's side is in test_egress_apprise.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings

from notifications import egress
from notifications.delivery import deliver
from notifications.models import DeliveryStatus, NotificationSettings
from notifications.tests.egress_plan import PUBLIC, HttpServer, public_loopback, started_servers

SETTING_NAMED = "set OUTBOUND_ALLOW_PRIVATE_IPS=True to allow your own network"


# --- Which addresses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # IPv4 carried in IPv6: judged by the IPv4 address, which ipaddress.is_global misses.
        ("::ffff:127.0.0.1", "embedding 127.0.0.1, a loopback address"),  # mapped
        ("::ffff:0:169.254.169.254", "embedding 169.254.169.254, a link-local"),  # translated
        ("::127.0.0.1", "embedding 127.0.0.1, a loopback address"),  # compatible
        ("::10.0.0.1", "embedding 10.0.0.1, a private network address"),
        ("64:ff9b::a9fe:a9fe", "embedding 169.254.169.254, a link-local"),  # NAT64
        ("64:ff9b::a00:1", "embedding 10.0.0.1, a private network address"),
        ("64:ff9b:1::808:808", "a local-use NAT64 address"),  # whatever it embeds
        ("2002:a9fe:a9fe::1", "embedding 169.254.169.254, a link-local"),  # 6to4
        ("2002:7f00:1::", "embedding 127.0.0.1, a loopback address"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "embedding 10.0.0.1"),  # Teredo client
        # Plain ones, IPv4 and IPv6.
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("10.1.2.3", "a private network address"),
        ("192.168.1.1", "a private network address"),
        ("fd00::1", "a private network address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),  # is_global says True
        ("fec0::1", "a site-local address"),  # is_global says True
        ("240.0.0.1", "address"),
        ("3fff::1", "a documentation address"),
    ],
)
def test_an_address_that_is_not_public_is_refused_with_the_setting_named(address, reason):
    refused = egress.refusal(address)

    assert refused is not None
    assert f"{address} is " in refused and reason in refused
    assert SETTING_NAMED in refused


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "8.8.8.8",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "::ffff:0:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_a_public_address_passes_in_every_form(address):
    assert egress.refusal(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://127.1/hook",  # the resolver reads it as 127.0.0.1
        "http://0x7f000001/hook",
        "http://2130706433/hook",
        "//169.254.169.254",  # a server given without a scheme
    ],
)
def test_a_url_on_a_refused_ip_literal_is_refused_without_the_network(url, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(socket, "getaddrinfo", _no_lookups)
        refused = egress.literal_address_refusal(url)

    assert refused is not None and SETTING_NAMED in refused


def test_a_url_on_a_name_is_left_to_the_connection_without_a_lookup(monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(socket, "getaddrinfo", _no_lookups)
        name = egress.literal_address_refusal("https://hooks.example.com/x")
        public = egress.literal_address_refusal("https://8.8.8.8/x")

    assert name is None and public is None


def _no_lookups(*args, **kwargs):
    raise AssertionError("validation must not look names up")


# --- At connect time ----------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on 127.0.0.1 that must not see a connection (non-blocking accept)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


def connect_under_guard(address: tuple, family: int = socket.AF_INET) -> egress.Guard:
    with egress.guard(time.monotonic() + 2) as send, socket.socket(family) as sock:
        sock.settimeout(2)
        with pytest.raises(egress.EgressRefused):
            sock.connect(address)
    return send


@pytest.mark.parametrize("host", ["127.0.0.1", "::ffff:127.0.0.1"])
def test_a_connection_to_a_refused_address_is_refused_before_it_is_made(listener, host):
    # ::ffff:127.0.0.1 on an IPv6 socket reaches 127.0.0.1 through the mapped form.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    port = listener.getsockname()[1]

    send = connect_under_guard((host, port), family)

    assert send.refused.startswith(f"{host} is ")
    assert SETTING_NAMED in send.refused
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_a_connection_by_name_is_refused_since_its_address_cannot_be_checked(listener):
    # Python would resolve "localhost" itself, after the check: only addresses pass.
    send = connect_under_guard(("localhost", listener.getsockname()[1]))

    assert "'localhost' is connected to by name" in send.refused


def test_a_datagram_to_a_refused_address_is_refused(listener):
    with egress.guard(time.monotonic() + 2) as send:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            with pytest.raises(egress.EgressRefused):
                sock.sendto(b"<14>x", ("169.254.169.254", 514))

    assert send.refused.startswith("169.254.169.254 is a link-local address")


def test_connections_outside_a_guard_are_not_checked(listener):
    with socket.create_connection(listener.getsockname(), timeout=2):
        pass


def test_the_opt_in_lets_connections_to_the_own_network_through(listener, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True

    with egress.guard(time.monotonic() + 2) as send:
        with socket.create_connection(listener.getsockname(), timeout=2):
            pass

    assert send.refused is None


def test_the_guard_cuts_a_connection_still_waiting_at_the_deadline(settings):
    # Any library's socket, here a plain one blocked in recv on a silent server.
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    with socket.create_server(("127.0.0.1", 0)) as server:
        started = time.monotonic()
        with egress.guard(started + 0.5) as send:
            with socket.create_connection(server.getsockname(), timeout=10) as sock:
                assert sock.recv(1) == b""  # shut down: end of file
        elapsed = time.monotonic() - started

    assert send.fired
    assert 0.5 <= elapsed < 0.8


# --- Webhooks -----------------------------------------------------------------------------


servers = pytest.fixture(started_servers, name="servers")


def webhook_delivery(owner, fire, url: str):
    NotificationSettings.objects.update_or_create(user=owner, defaults={"webhook_url": url})
    [delivery] = fire(owner, channels=["webhook"])
    return delivery


@pytest.mark.django_db
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_webhook_that_redirects_fails_for_good_and_nothing_is_sent(
    servers, monkeypatch, owner, fire, status
):
    public_loopback(monkeypatch, PUBLIC)  # both servers play public hosts
    target = HttpServer(PUBLIC)
    moved = HttpServer(PUBLIC, [(status, {"Location": target.url.replace("//", "//u:pw@")})])
    servers += [target, moved]
    delivery = webhook_delivery(owner, fire, moved.url)

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert delivery.last_error == (
        f"permanent: {moved.url} redirected to {target.url.replace('//', '//***@')} "
        f"(HTTP {status}); webhooks do not follow redirects, so nothing was delivered: "
        "save the final URL"
    )
    assert len(moved.requests) == 1
    assert target.requests == []


@pytest.mark.django_db
def test_the_opt_in_lets_a_webhook_reach_the_own_network(servers, owner, fire, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    receiver = HttpServer("127.0.0.1")
    servers.append(receiver)
    delivery = webhook_delivery(owner, fire, receiver.url)

    assert deliver(delivery.pk) == DeliveryStatus.SENT
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_webhook_to_loopback_is_refused_naming_the_setting(servers, owner, fire):
    receiver = HttpServer("127.0.0.1")
    servers.append(receiver)
    delivery = webhook_delivery(owner, fire, receiver.url)

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert delivery.last_error == (
        "permanent: 127.0.0.1 is a loopback address; notifications go to public hosts only "
        f"({SETTING_NAMED})"
    )
    assert receiver.requests == []


# --- Settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("WEBHOOK_ALLOW_PRIVATE_IPS", "OUTBOUND_ALLOW_PRIVATE_IPS"),
        ("WEBHOOK_TIMEOUT_SECONDS", "OUTBOUND_TIMEOUT_SECONDS"),
    ],
)
def test_a_renamed_setting_still_set_stops_the_start_naming_the_new_one(old, new):
    # Silently ignoring it would drop a self-hoster's opt-in (or limit).
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "DEBUG": "True",
        old: "True" if "ALLOW" in old else "5",
    }
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert started.returncode != 0
    assert f"ImproperlyConfigured: {old} was renamed {new}" in started.stderr
