"""The Transport base every channel subclasses, and its single error type."""

from __future__ import annotations

import ipaddress
import socket
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from notifications.notices import Notice


class TransportError(Exception):
    """A send that did not happen. Permanent errors are never retried."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message


def forbidden_destination(url: str) -> str | None:
    """Why we will not send to `url` (a private address), or None.

    Checked when the URL is saved; sends check the address they connect to
    (`pinned_request`), since DNS may change in between. A name that does
    not resolve now is let through: the send fails and is retried like any
    unreachable server.
    """
    if settings.WEBHOOK_ALLOW_PRIVATE_IPS:
        return None
    host = urlsplit(url).hostname
    if not host:
        return f"{url} has no host name"
    try:
        addresses = resolve(host)
    except (OSError, UnicodeError):
        return None
    return private_address(host, addresses)


def resolve(host: str) -> list[str]:
    """The addresses `host` resolves to now, in the resolver's order."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def private_address(host: str, addresses: list[str]) -> str | None:
    """Why one of `host`'s addresses is not on the public internet, or None."""
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if getattr(ip, "ipv4_mapped", None):
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
        if not ip.is_global:
            return (
                f"{host} is a private network address ({address}); notifications go to public hosts"
            )
    return None


def pinned_request(url: str, headers: dict[str, str]) -> tuple[str, dict[str, str], dict]:
    """`url` rewritten to the address we checked, with the Host header and SNI kept.

    Resolving once and connecting to that address closes the gap in which a
    name checked as public could resolve to a private address for the send
    (DNS rebinding). Returns the URL, headers and httpx request extensions.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise TransportError(f"{url} has no host name", permanent=True)
    try:
        addresses = resolve(host)
    except (OSError, UnicodeError) as exc:
        raise TransportError(f"could not resolve {host}: {exc}") from None
    if not settings.WEBHOOK_ALLOW_PRIVATE_IPS:
        refused = private_address(host, addresses)
        if refused:
            raise TransportError(refused, permanent=True)
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    host_header = parts.netloc.rpartition("@")[2]
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), {**headers, "Host": host_header}, extensions


class Transport:
    """Sends notices to one user on one channel; raises TransportError on failure."""

    channel: ClassVar[str]

    def __init__(self, user) -> None:
        self.user = user

    def send(self, notice: Notice) -> None:
        raise NotImplementedError


class HttpTransport(Transport):
    """POSTs with one timeout policy and one mapping of HTTP failures for everyone."""

    def timeout(self) -> float:
        return settings.WEBHOOK_TIMEOUT_SECONDS

    def post(self, url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        target, headers, extensions = pinned_request(url, headers)
        timeout = self.timeout()
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False) as client:
                response = client.post(
                    target, content=content, headers=headers, extensions=extensions
                )
        except httpx.TimeoutException:
            raise TransportError(f"{url} did not answer within {timeout:g} s") from None
        except httpx.InvalidURL as exc:
            raise TransportError(f"invalid URL {url}: {exc}", permanent=True) from None
        except httpx.HTTPError as exc:
            raise TransportError(f"could not reach {url}: {exc}") from None
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise TransportError(f"{url} answered HTTP {status}; will retry")
        if status >= 400:
            raise TransportError(f"{url} refused the notification: HTTP {status}", permanent=True)
        return response
