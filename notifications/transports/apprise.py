"""Apprise: Telegram, Slack, Discord, ntfy and the rest through the apprise library."""

from __future__ import annotations

import apprise

from notifications.models import NotificationSettings
from notifications.notices import Notice
from notifications.transports.base import Transport, TransportError


def invalid_urls(urls: list[str]) -> list[str]:
    """The URLs apprise does not understand (unknown scheme, missing token...)."""
    return [url for url in urls if apprise.Apprise.instantiate(url) is None]


class AppriseTransport(Transport):
    channel = "apprise"

    def send(self, notice: Notice) -> None:
        urls = NotificationSettings.for_user(self.user).apprise_url_list()
        if not urls:
            raise TransportError("no Apprise URL is set in notification settings", permanent=True)
        bad = invalid_urls(urls)
        if bad:
            raise TransportError(f"invalid Apprise URL: {', '.join(bad)}", permanent=True)
        body = f"{notice.message}\n{notice.url}"
        # One Apprise object per URL so one broken service does not hide the others.
        failed = [url for url in urls if not _notify(url, notice.title, body)]
        if failed:
            raise TransportError(f"Apprise could not deliver to {len(failed)} of {len(urls)} URLs")


def _notify(url: str, title: str, body: str) -> bool:
    sender = apprise.Apprise()
    sender.add(url)
    return bool(sender.notify(title=title, body=body))
