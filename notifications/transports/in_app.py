"""In-app: an inbox entry plus a live popup on the owner's WebSocket group."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from common.live_groups import user_group
from notifications.models import InAppNotification
from notifications.notices import Notice
from notifications.transports.base import Transport, TransportError


class InAppTransport(Transport):
    channel = "in_app"

    def send(self, notice: Notice) -> None:
        # Keyed by delivery: a retry after a failed push never adds a second entry.
        InAppNotification.objects.get_or_create(
            delivery_id=notice.delivery_id,
            defaults={
                "user_id": notice.user_id,
                "event_id": notice.event_id,
                "title": notice.title,
                "body": notice.message,
                "url": notice.path,
            },
        )
        try:
            async_to_sync(get_channel_layer().group_send)(
                user_group(notice.user_id), {"type": "user.alert", "alert": notice.payload()}
            )
        except Exception as exc:  # the layer's Redis is down or refused us
            raise TransportError(f"could not push the popup: {exc}") from exc
