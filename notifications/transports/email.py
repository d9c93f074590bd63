"""Email through Django's mail framework: plain text + HTML, one alert, a digest or a summary."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import struct
import threading
from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import salted_hmac

from accounts.models import Profile
from notifications.notices import Notice
from notifications.transports.base import Transport, TransportError

DELIVERY_HEADER = "X-CryptoMonitor-Delivery"


class EmailTransport(Transport):
    channel = "email"

    def send(self, notice: Notice) -> str:
        template = "summary" if notice.is_summary else "alert"
        return self._send(notice.subject, template, {"notice": notice}, [notice.delivery_id])

    def send_digest(self, notices: list[Notice]) -> str:
        """One email covering several alerts; returns its Message-ID."""
        symbols = ", ".join(dict.fromkeys(notice.symbol for notice in notices))
        subject = f"CryptoMonitor: {len(notices)} alerts fired ({symbols})"
        context = {"notices": notices}
        return self._send(subject, "digest", context, [n.delivery_id for n in notices])

    def _send(self, subject: str, template: str, context: dict, delivery_ids: list[int]) -> str:
        address = alert_email(self.user)
        if not address:
            raise TransportError(
                "no email address to send to: none of the account's is confirmed "
                "(confirm one on /accounts/email/)",
                permanent=True,
            )
        context = {
            **context,
            "user": self.user,
            "site_url": settings.SITE_URL,
            "settings_url": settings.SITE_URL + reverse("notifications:settings"),
        }
        message_id = message_id_for(delivery_ids)
        message = EmailMultiAlternatives(
            subject=subject[:250],
            body=render_to_string(f"notifications/email/{template}.txt", context),
            to=[address],
            headers={
                "Message-ID": message_id,
                DELIVERY_HEADER: ",".join(map(str, delivery_ids)),
            },
        )
        message.attach_alternative(
            render_to_string(f"notifications/email/{template}.html", context), "text/html"
        )
        try:
            # The lease is checked as the message is handed to a connection,
            # after the reads above (the address is a PostgreSQL read).
            send_on_kept_connection(message, self.in_time)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise TransportError(
                f"the mail server refused {address}: {_responses(exc.recipients.values())}",
                permanent=all(code >= 500 for code in codes),
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise TransportError(
                f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}",
                permanent=exc.smtp_code >= 500,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Refused or dropped connections, timeouts: the server may come back.
            raise TransportError(f"could not talk to the mail server: {exc}") from None
        return message_id


def message_id_for(delivery_ids: list[int]) -> str:
    """The Message-ID of the email carrying these deliveries: the same at every send.

    A worker that dies between the server's 250 and its commit leaves the row
    to be sent again (the sweeper, a retry): the copy then carries the first
    one's Message-ID, so a mail client shows it once, and a duplicate can be
    told from a second alert. The keyed hash keeps two installations' ids
    for the same delivery number apart.
    """
    ids = sorted(delivery_ids)
    key = ",".join(map(str, ids))
    tag = salted_hmac("notifications.email.message-id", key).hexdigest()[:20]
    return f"<cm.{ids[0]}.{len(ids)}.{tag}@cryptomonitor>"


# One open mail connection per worker thread, reused from email to email.
_kept = threading.local()


def send_on_kept_connection(
    message: EmailMultiAlternatives, in_time: Callable[[], None] = lambda: None
) -> None:
    """Send on this thread's open mail connection, opening one when needed.

    Opening a connection per email (connect, EHLO, QUIT) was a third of each
    send in the burst benchmark. A kept connection the server has closed in
    the meantime is replaced once, at once; any other failure drops it too.
    `in_time` runs right before the message goes out on a connection (each
    attempt: a kept connection that timed out took EMAIL_TIMEOUT) and raises
    to stop the send (the transport's TooLate).
    """
    key = (settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT)
    kept = getattr(_kept, "connection", None)
    if kept is not None and kept[0] == key:
        in_time()
        try:
            kept[1].send_messages([message])
            return
        except smtplib.SMTPServerDisconnected:
            drop_kept_connection()
        except Exception:
            drop_kept_connection()
            raise
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
        _reset_on_close(connection)
        in_time()
        connection.send_messages([message])
    except Exception:
        _abort(connection)
        raise
    _kept.connection = (key, connection)


def drop_kept_connection() -> None:
    kept = getattr(_kept, "connection", None)
    _kept.connection = None
    if kept is not None:
        _abort(kept[1])


def _reset_on_close(connection) -> None:
    """Make every close of this connection a reset: nothing unsent goes out afterwards.

    A send that timed out on a cut link leaves the message, its final dot
    included, in the kernel's send buffer, and smtplib closes the socket
    itself on the timeout. A polite close keeps retrying that data: once the
    link is back the server accepts an email whose row the sweeper has
    meanwhile given to another worker. With SO_LINGER 0 the kernel drops it,
    so the server never sees the end of the message. A session that ends
    normally loses nothing: its QUIT was answered, so all was received.
    """
    smtp = getattr(connection, "connection", None)
    sock = getattr(smtp, "sock", None)
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _abort(connection) -> None:
    """Drop a connection a send failed on, without a QUIT (the link may be gone)."""
    smtp = getattr(connection, "connection", None)
    sock = getattr(smtp, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()
    connection.connection = None


def alert_email(user) -> str:
    """Where the user's alert emails go (a confirmed address only: Profile.alert_email).

    Uses a profile loaded with the user if any.
    """
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        profile = Profile(user=user)  # no notification address: the account's
    return profile.alert_email


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def _responses(pairs) -> str:
    return "; ".join(f"{code} {_text(text)}" for code, text in pairs)
