"""Email delivery to a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from accounts.models import Profile
from notifications.delivery import deliver, send_test_notifications
from notifications.models import Delivery, DeliveryStatus
from notifications.tests.conftest import MailSink, free_port, start_smtp, use_smtp

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = "http://testserver.example"


def test_it_sends_the_alert_as_multipart_text_and_html(smtp, owner, fire):
    [delivery] = fire(owner, note="sell half")

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [message] = smtp.messages
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == (
        "CryptoMonitor: BTC price is at or above 30000 (now 30123.45 USD)"
    )
    assert message["X-CryptoMonitor-Delivery"] == str(delivery.pk)
    assert message["Message-ID"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    alert_url = f"http://testserver.example/alerts/{delivery.event.alert_id}/"
    for body in (text, html):
        assert "Bitcoin (BTC)" in body
        assert "30123.45 USD" in body
        assert "sell half" in body
        assert alert_url in body


def test_an_alert_in_euros_is_emailed_with_its_price_in_euros(smtp, owner, fire):
    [delivery] = fire(owner, price="27111.1071", currency="eur", exchange_rate="0.9")

    deliver(delivery.pk)

    [message] = smtp.messages
    # A subject with a non-ASCII sign travels as a folded encoded word.
    assert " ".join(message["Subject"].split()) == (
        "CryptoMonitor: BTC price is at or above 30000 EUR (now €27,111.11)"
    )
    for part in ("plain", "html"):
        body = message.get_body((part,)).get_content()
        assert "€27,111.11" in body
        assert "USD" not in body


def test_it_marks_the_delivery_sent(smtp, owner, fire):
    [delivery] = fire(owner)

    deliver(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.sent_at is not None
    assert delivery.attempts == 1
    assert delivery.lease_expires_at is None


def test_it_uses_the_profiles_notification_email(smtp, owner, fire):
    # Once confirmed: test_email_confirmation.py has what happens before.
    Profile.objects.create(
        user=owner,
        notification_email="alerts@alice.example",
        confirmed_notification_email="alerts@alice.example",
    )
    [delivery] = fire(owner)

    deliver(delivery.pk)

    assert smtp.envelopes[0][1] == ["alerts@alice.example"]


def test_it_sends_each_delivery_once(smtp, owner, fire):
    [delivery] = fire(owner)

    deliver(delivery.pk)
    assert deliver(delivery.pk) is None

    assert len(smtp.messages) == 1


def test_it_renders_a_test_message_without_an_event(smtp, owner):
    [delivery] = send_test_notifications(owner, ["email"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT
    [message] = smtp.messages
    assert message["Subject"] == "CryptoMonitor: CryptoMonitor test notification"
    assert "test notification" in message.get_body(("plain",)).get_content()


def test_it_retries_when_the_server_refuses_the_connection_then_sends(settings, owner, fire):
    port = free_port()
    use_smtp(settings, port)
    [delivery] = fire(owner)

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert "Connection refused" in delivery.last_error
    assert delivery.next_attempt_at is not None

    sink = MailSink()
    controller = start_smtp(sink, port)
    try:
        assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.SENT
    finally:
        controller.stop()
    assert len(sink.messages) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")


@pytest.fixture
def dropping_server() -> int:
    """A TCP server that accepts SMTP connections and hangs up at once."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def test_it_retries_when_the_server_drops_the_connection_then_sends(
    settings, owner, fire, dropping_server, smtp
):
    good_port = smtp.port
    use_smtp(settings, dropping_server)
    [delivery] = fire(owner)

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert "could not talk to the mail server" in delivery.last_error

    use_smtp(settings, good_port)
    assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.SENT
    assert len(smtp.messages) == 1


def test_it_does_not_retry_before_the_backoff_has_passed(settings, owner, fire):
    use_smtp(settings, free_port())
    [delivery] = fire(owner)
    deliver(delivery.pk)
    delivery.refresh_from_db()

    assert deliver(delivery.pk, now=delivery.next_attempt_at - timedelta(seconds=1)) is None


def test_it_fails_at_once_when_the_recipient_is_rejected(smtp, owner, fire, client):
    smtp.rcpt_reply = "550 5.1.1 No such user here"
    [delivery] = fire(owner)

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert "550" in delivery.last_error and "No such user" in delivery.last_error
    client.force_login(owner)
    page = client.get("/notifications/").content.decode()
    assert "No such user here" in page
    assert smtp.messages == []


def test_it_retries_when_the_recipient_is_deferred(smtp, owner, fire):
    smtp.rcpt_reply = "451 4.7.1 Greylisted, try again later"
    [delivery] = fire(owner)

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    smtp.rcpt_reply = None
    delivery.refresh_from_db()
    assert deliver(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.SENT


def test_it_fails_for_good_without_an_address(smtp, owner, fire):
    owner.email = ""
    owner.save()
    [delivery] = fire(owner)

    assert deliver(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert "no email address" in delivery.last_error


def test_a_kept_connection_the_server_closed_is_replaced_at_once(settings, owner, fire):
    port = free_port()
    use_smtp(settings, port)
    first_server, second_server = MailSink(), MailSink()
    controller = start_smtp(first_server, port)
    [first] = fire(owner)
    [second] = fire(owner)
    deliver(first.pk)
    controller.stop()  # closes the connection our sender keeps open

    controller = start_smtp(second_server, port)
    try:
        assert deliver(second.pk) == DeliveryStatus.SENT
    finally:
        controller.stop()
    assert len(first_server.messages) == len(second_server.messages) == 1


def test_it_reuses_one_connection_for_consecutive_emails(smtp, owner, fire):
    deliveries = [d for _ in range(3) for d in fire(owner)]

    for delivery in deliveries:
        deliver(delivery.pk)

    assert len(smtp.messages) == 3
    assert smtp.connections == 1


def test_a_delivery_sent_again_after_a_lost_commit_carries_the_same_message_id(smtp, owner, fire):
    # The worker died after the server's 250, before its commit: the sweeper
    # takes the row back as pending, and it is sent once more.
    [delivery] = fire(owner)
    deliver(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, sent_at=None, claim_token=""
    )

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    first, again = smtp.messages
    assert again["Message-ID"] == first["Message-ID"]


def test_two_deliveries_get_different_message_ids(smtp, owner, fire):
    [first] = fire(owner)
    [second] = fire(owner)

    deliver(first.pk)
    deliver(second.pk)

    assert smtp.messages[0]["Message-ID"] != smtp.messages[1]["Message-ID"]


@pytest.fixture
def silent_after_data() -> Iterator[tuple[int, list[str]]]:
    """An SMTP server that takes a whole message and never answers its end.

    It records what it saw after the message: "reset" when the client reset
    the connection, else the bytes it sent (a QUIT, an empty read for a close).
    """
    listener = socket.create_server(("127.0.0.1", 0))
    after: list[str] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            reader = connection.makefile("rb")
            connection.sendall(b"220 silent\r\n")
            while line := reader.readline():
                if line.upper().startswith(b"DATA"):
                    connection.sendall(b"354 go on\r\n")
                    while reader.readline() != b".\r\n":
                        pass
                    break
                connection.sendall(b"250 ok\r\n")
            try:
                after.append(connection.recv(100).decode())
            except ConnectionResetError:
                after.append("reset")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], after
    thread.join(timeout=10)
    listener.close()


def test_a_send_that_times_out_resets_the_connection_so_nothing_unsent_goes_out_later(
    settings, owner, fire, silent_after_data
):
    # On a cut link the unanswered message sits in the kernel's buffer: a
    # polite close would deliver it once the link is back, after the sweeper
    # gave the row to another worker. A reset drops it.
    port, after = silent_after_data
    use_smtp(settings, port)
    settings.EMAIL_TIMEOUT = 1
    [delivery] = fire(owner)

    assert deliver(delivery.pk) == DeliveryStatus.PENDING

    wait_for = time.monotonic() + 5
    while not after and time.monotonic() < wait_for:
        time.sleep(0.05)
    assert after == ["reset"]
