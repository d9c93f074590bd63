"""One webhook send fits in WEBHOOK_TIMEOUT_SECONDS, however many addresses its host has."""

from __future__ import annotations

import time

import pytest

from notifications.transports.base import HttpTransport, TransportError

TIMEOUT = 1.0


@pytest.fixture(autouse=True)
def _local_hosts(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_IPS = True  # every address here is loopback
    settings.WEBHOOK_TIMEOUT_SECONDS = TIMEOUT


def timed_post(url: str) -> tuple[TransportError | None, float]:
    """Post to `url`; the error it raised, if any, and the seconds it took."""
    started = time.monotonic()
    try:
        HttpTransport(user=None).post(url, b"{}", {})
    except TransportError as error:
        return error, time.monotonic() - started
    return None, time.monotonic() - started


def test_two_addresses_that_never_connect_take_one_timeout_not_two(dns, unanswering_listener):
    port = unanswering_listener("127.0.0.2")
    unanswering_listener("127.0.0.3", port)
    dns["dead.test"] = [["127.0.0.2", "127.0.0.3"]]

    error, elapsed = timed_post(f"http://dead.test:{port}/hook")

    # Each address used to get the whole timeout: 2 s here.
    assert elapsed < TIMEOUT + 0.5
    assert error is not None and not error.permanent
    assert f"dead.test:{port}/hook did not answer within 1 s" in error.message


def test_a_dead_first_address_leaves_time_to_send_to_the_next(receiver, dns, unanswering_listener):
    port = unanswering_listener("127.0.0.2", receiver.server.server_address[1])
    dns["two.test"] = [["127.0.0.2", "127.0.0.1"]]

    error, elapsed = timed_post(f"http://two.test:{port}/hook")

    assert error is None
    assert len(receiver.requests) == 1
    # The dead address gets half the time (two addresses to try), not all of it.
    assert elapsed < TIMEOUT - 0.2


def test_the_reply_gets_only_the_time_the_addresses_left(receiver, dns, unanswering_listener):
    # Half the timeout goes on the dead address; a reply 0.8 s later is too late.
    port = unanswering_listener("127.0.0.2", receiver.server.server_address[1])
    dns["two.test"] = [["127.0.0.2", "127.0.0.1"]]
    receiver.script = [("sleep", 0.8)]

    error, elapsed = timed_post(f"http://two.test:{port}/hook")

    assert error is not None and not error.permanent  # retried later, like any timeout
    assert "did not answer within 1 s" in error.message
    assert elapsed < TIMEOUT + 0.5
