"""Apprise: Telegram, Slack, Discord, ntfy and the rest through the apprise library."""

from __future__ import annotations

import time

import apprise
from django.conf import settings

from notifications import egress
from notifications.models import NotificationSettings
from notifications.notices import Notice
from notifications.transports.base import Transport, TransportError
from notifications.validation import apprise_url_errors


class AppriseTransport(Transport):
    channel = "apprise"

    def send(self, notice: Notice) -> None:
        urls = NotificationSettings.for_user(self.user).apprise_url_list()
        if not urls:
            raise TransportError("no Apprise URL is set in notification settings", permanent=True)
        # The rule for saving, again: URLs saved before a rule was added
        # (a scheme of this machine's, say) must not send either.
        if errors := apprise_url_errors(urls):
            raise TransportError(" ".join(errors), permanent=True)
        timeout = settings.OUTBOUND_TIMEOUT_SECONDS
        services = [_bounded_service(url, timeout) for url in urls]
        unknown = [url for url, service in zip(urls, services, strict=True) if service is None]
        if unknown:
            raise TransportError(f"invalid Apprise URL: {', '.join(unknown)}", permanent=True)
        body = f"{notice.message}\n{notice.url}"
        self.in_time()
        # Every connection of every service (each redirect hop, SMTP...) is
        # checked by the guard, and the whole send ends by the deadline, even
        # while a name lookup hangs: it runs in a thread under the guard.
        with egress.guard(time.monotonic() + timeout) as send:
            try:
                delivered = send.run(
                    lambda: [_notify(service, notice.title, body) for service in services]
                )
            except TimeoutError:
                delivered = None
        if send.refused:
            # Never "sent", even if a service reported success after a refused hop.
            raise TransportError(f"Apprise: {send.refused}", permanent=True)
        if delivered is None or (send.fired and not all(delivered)):
            raise TransportError(f"Apprise did not finish within {timeout:g} s")
        failed = delivered.count(False)
        if failed:
            raise TransportError(f"Apprise could not deliver to {failed} of {len(urls)} URLs")


def _bounded_service(url: str, timeout: float):
    """The Apprise service for `url`, held to the send's deadline; None if Apprise does not
    understand it.

    What the URL may set about time or outcome is overridden: ?cto= and ?rto=
    are clamped to the deadline, ?retry= is dropped (the delivery retries,
    with backoff), and ?optional=yes must not turn a failure into "sent".
    """
    service = apprise.Apprise.instantiate(url, asset=apprise.AppriseAsset(service_timeout=timeout))
    if service is None:
        return None
    service.socket_connect_timeout = min(service.socket_connect_timeout, timeout)
    service.socket_read_timeout = min(service.socket_read_timeout, timeout)
    service.retry = 0
    service.optional = False
    return service


def _notify(service, title: str, body: str) -> bool:
    # One Apprise object per URL so one broken service does not hide the others.
    sender = apprise.Apprise()
    sender.add(service)
    return bool(sender.notify(title=title, body=body))
