"""Webhook: a JSON POST signed with HMAC-SHA256 of the body and the user's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from notifications.models import NotificationSettings
from notifications.notices import Notice
from notifications.transports.base import HttpTransport, TransportError

SIGNATURE_HEADER = "X-CryptoMonitor-Signature"
TIMESTAMP_HEADER = "X-CryptoMonitor-Timestamp"


def sign(body: bytes, secret: str) -> str:
    """The signature header's value; receivers recompute it over the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookTransport(HttpTransport):
    channel = "webhook"

    def send(self, notice: Notice) -> None:
        config = NotificationSettings.for_user(self.user)
        if not config.webhook_url:
            raise TransportError("no webhook URL is set in notification settings", permanent=True)
        timestamp = str(int(time.time()))
        body = json.dumps(
            {
                "type": notice.kind.value,
                "delivery_id": notice.delivery_id,
                "timestamp": int(timestamp),
                **_content(notice),
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "CryptoMonitor-Webhook/1",
            SIGNATURE_HEADER: sign(body, config.webhook_secret),
            TIMESTAMP_HEADER: timestamp,
        }
        self.in_time()
        self.post(config.webhook_url, body, headers)


def _content(notice: Notice) -> dict:
    """The body's `alert` (alerts and tests) or `summary` (its content and rows)."""
    if notice.summary is not None:
        return {"summary": {"id": notice.summary_id, **notice.summary, "url": notice.url}}
    return {"alert": {**notice.payload(), "url": notice.url, "title": notice.title}}
