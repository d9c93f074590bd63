"""Apprise: Telegram, Slack, Discord, ntfy and the rest through the apprise library."""

from __future__ import annotations

import ipaddress
import re
import time
from urllib.parse import urlsplit

import apprise
from django.conf import settings

from notifications import egress
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
    """Each URL naming a server whose name resolves to a refused address, with why.

    Looks names up (`forbidden_destination`): `literal_refusals` is the same
    check without the network. Sends do not rely on either: the egress
    guard checks every connection they make.
    """
    refused = []
    for url in urls:
        service = apprise.Apprise.instantiate(url)
        for server in service_servers(service) if service else []:
            if reason := forbidden_destination(server):
                refused.append(f"{url} ({reason})")
                break
    return refused


def literal_refusals(urls: list[str]) -> list[str]:
    """Each URL naming a server by an IP literal the egress policy refuses, with why.

    No DNS, no network: every server the service's attributes name
    (`service_servers`) is checked with `egress.literal_address_refusal`;
    names are checked when a send connects. URLs Apprise does not
    understand are skipped (`apprise.Apprise.instantiate` says which).
    """
    refused = []
    for url in urls:
        service = apprise.Apprise.instantiate(url)
        for server in service_servers(service) if service else []:
            if reason := egress.literal_address_refusal(server):
                refused.append(f"{url} ({reason})")
                break
    return refused


# Attribute names that hold a server to connect to: smtp_host (mailto://?smtp=),
# xmpp_host, hostname (zulip://), home_server (matrix://), _NotifyBluesky__endpoint...
SERVER_ATTRIBUTE = re.compile(r"(^|_)(host|hostname|server|endpoint|uri|url)$")
# A host name of two labels or more; a token with dots (a JWT) is not looked up.
DOTTED_NAME = re.compile(r"^([a-z0-9-]{1,63}\.)+[a-z][a-z0-9-]{0,62}$", re.IGNORECASE)
URL_VALUE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def service_servers(service) -> list[str]:
    """Every server an Apprise service may connect to, as `//host` or a URL.

    Not a list per plugin (plugins add overrides such as mailto://?smtp=):
    every string attribute of the instantiated service whose name says host,
    server, endpoint or URL, and every value that is a URL. Links the service
    only displays (pover://?url=, discord://?avatar_url=) are checked too, so
    they may not point at a private address either.
    """
    servers = []
    for name, value in vars(service).items():
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip()
        if name == "host":
            if _host_is_a_server(service, value):
                servers.append(f"//{_bracketed(value)}")
        elif URL_VALUE.match(value):
            servers.append(value)
        elif SERVER_ATTRIBUTE.search(name.lower()):
            servers.append(f"//{_bracketed(value)}")
    # A value without a host (sns:// has aws_canonical_uri "/") names no server.
    return [server for server in dict.fromkeys(servers) if urlsplit(server).hostname]


def _host_is_a_server(service, host: str) -> bool:
    """Whether the URL's host part names a server.

    Services whose URL names the server (json://, ntfy://host/topic, gotify://,
    mailto://…) declare a `host` token; in the others (tgram://, slack://…) the
    host part is a token and the server is the vendor's, unless it holds a dot
    (zulip://bot@org.example.com/ connects to org.example.com). ntfy://topic is
    ntfy.sh.
    """
    if getattr(service, "mode", None) == "cloud":
        return False
    return "host" in service.template_tokens or bool(DOTTED_NAME.match(host))


def _bracketed(host: str) -> str:
    host = host.strip("[]") if host.startswith("[") else host
    try:
        ipaddress.IPv6Address(host.split("%")[0])
    except ValueError:
        return host
    return f"[{host}]"


class AppriseTransport(Transport):
    channel = "apprise"

    def send(self, notice: Notice) -> None:
        urls = NotificationSettings.for_user(self.user).apprise_url_list()
        if not urls:
            raise TransportError("no Apprise URL is set in notification settings", permanent=True)
        timeout = settings.OUTBOUND_TIMEOUT_SECONDS
        services = [_bounded_service(url, timeout) for url in urls]
        unknown = [url for url, service in zip(urls, services, strict=True) if service is None]
        if unknown:
            raise TransportError(f"invalid Apprise URL: {', '.join(unknown)}", permanent=True)
        body = f"{notice.message}\n{notice.url}"
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
