"""One transport per alerts.models.Channel value: the registry the delivery task uses."""

from __future__ import annotations

from datetime import datetime

from common.delivery_channels import Channel
from notifications.transports.apprise import AppriseTransport
from notifications.transports.base import HttpTransport, TooLate, Transport, TransportError
from notifications.transports.email import EmailTransport
from notifications.transports.in_app import InAppTransport
from notifications.transports.web_push import WebPushTransport
from notifications.transports.webhook import WebhookTransport

TRANSPORTS: dict[str, type[Transport]] = {
    Channel(cls.channel).value: cls
    for cls in (
        EmailTransport,
        InAppTransport,
        WebhookTransport,
        AppriseTransport,
        WebPushTransport,
    )
}


def transport_for(channel: str, user, not_after: datetime | None = None) -> Transport:
    """The transport for `channel`; with `not_after`, it sends nothing after then."""
    try:
        return TRANSPORTS[channel](user, not_after)
    except KeyError:
        raise TransportError(f"unknown channel {channel!r}", permanent=True) from None


__all__ = [
    "TRANSPORTS",
    "HttpTransport",
    "TooLate",
    "Transport",
    "TransportError",
    "transport_for",
]
