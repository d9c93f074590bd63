"""Apprise: Telegram, Slack, Discord, ntfy and the rest through the apprise library."""

from __future__ import annotations

import apprise

from notifications.models import NotificationSettings
from notifications.notices import Notice
from notifications.transports.base import Transport, TransportError, forbidden_destination


def invalid_urls(urls: list[str]) -> list[str]:
    """The URLs we will not send to: ones apprise does not understand (unknown
    scheme, missing token...), then `refused_urls`.
    """
    unknown = [url for url in urls if apprise.Apprise.instantiate(url) is None]
    return unknown + refused_urls([url for url in urls if url not in unknown])


def refused_urls(urls: list[str]) -> list[str]:
    """Each URL whose server is a private address, with why.

    The webhook policy (WEBHOOK_ALLOW_PRIVATE_IPS), applied to the host of
    every service whose URL names its server.
    """
    refused = []
    for url in urls:
        service = apprise.Apprise.instantiate(url)
        host = service_host(service) if service else ""
        if host and (reason := forbidden_destination(f"//{host}")):
            refused.append(f"{url} ({reason})")
    return refused


def service_host(service) -> str:
    """The network host an Apprise service connects to, or "" when the URL has none.

    Services whose URL names the server (json://, ntfy://host/topic, gotify://,
    mailto://…) declare a `host` token; in the others (tgram://, slack://…) the
    host part is a token and the server is the vendor's. ntfy://topic is ntfy.sh.
    """
    if "host" not in service.template_tokens or getattr(service, "mode", None) == "cloud":
        return ""
    host = (service.host or "").strip("[]")
    return f"[{host}]" if ":" in host else host


class AppriseTransport(Transport):
    channel = "apprise"

    def send(self, notice: Notice) -> None:
        urls = NotificationSettings.for_user(self.user).apprise_url_list()
        if not urls:
            raise TransportError("no Apprise URL is set in notification settings", permanent=True)
        # Checked again right before sending: DNS may have changed since saving.
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
