"""The Transport base every channel subclasses, and its single error type."""

from __future__ import annotations

import base64
import ipaddress
import socket
import time
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from notifications.notices import Notice
from notifications.transports.deadline import TimeLeft, Watchdog, before_deadline


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

    Checked when the URL is saved and before each send, since DNS may change
    in between. Webhook sends connect to the addresses checked
    (`pinned_request`); Apprise resolves names again itself, so for it the
    check before sending narrows the rebinding gap but does not close it. A
    name that does not resolve now is let through: the send fails and is
    retried like any unreachable server.
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


def pinned_request(
    url: str, headers: dict[str, str], deadline: float | None = None
) -> tuple[list[str], dict[str, str], dict]:
    """`url` rewritten to each address we checked, with the Host header and SNI kept.

    Resolving once and connecting to those addresses closes the gap in which
    a name checked as public could resolve to a private address for the send
    (DNS rebinding). Every address is checked; the caller tries them in the
    resolver's order (`post`). What the URL carried besides the address stays:
    its user-info as Basic auth (unless `headers` has an Authorization), and
    an IDN host as its IDNA form (xn--…), as httpx would send it. Returns the
    URLs, the headers and the httpx request extensions. The name lookup
    fails if it has not answered by `deadline` (time.monotonic()), if given.
    """
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise TransportError(
            f"invalid URL {without_credentials(url)}: {exc}", permanent=True
        ) from None
    if not host:
        raise TransportError(f"{without_credentials(url)} has no host name", permanent=True)
    try:
        if deadline is None:
            addresses = resolve(host)
        else:
            addresses = before_deadline(deadline, lambda: resolve(host))
    except (OSError, UnicodeError) as exc:
        raise TransportError(f"could not resolve {host}: {exc}") from None
    if not addresses:
        raise TransportError(f"could not resolve {host}: no address")
    if not settings.WEBHOOK_ALLOW_PRIVATE_IPS:
        refused = private_address(host, addresses)
        if refused:
            raise TransportError(refused, permanent=True)
    parts = urlsplit(url)
    port = "" if parts.port is None else f":{parts.port}"
    targets = [
        parts._replace(netloc=f"{_bracketed(address)}{port}").geturl() for address in addresses
    ]
    headers = {**headers, "Host": f"{_bracketed(host)}{port}"}
    if (parsed.username or parsed.password) and not any(
        name.lower() == "authorization" for name in headers
    ):
        credentials = f"{parsed.username}:{parsed.password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return targets, headers, extensions


def without_credentials(url: str) -> str:
    """`url` with any user:password replaced by ***, for error messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


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
        """How long one send may take in all, whatever the host's number of addresses."""
        return settings.WEBHOOK_TIMEOUT_SECONDS

    def post(self, url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST `content` to `url`; the response, closed, its body unread.

        Everything from the name lookup to the reply's status line and
        headers fits in `timeout()` (`deadline`); the body is not waited
        for, since the status says whether the notification arrived.
        """
        timeout = self.timeout()
        deadline = time.monotonic() + timeout
        targets, headers, extensions = pinned_request(url, headers, deadline)
        # Errors are stored on the Delivery and shown in pages and the admin.
        url = without_credentials(url)
        too_late = TransportError(f"{url} did not answer within {timeout:g} s")
        with Watchdog(deadline) as watchdog:
            extensions = {**extensions, "trace": watchdog.trace}
            try:
                with httpx.Client(follow_redirects=False) as client:
                    response = _post_first_reachable(
                        client, targets, content, headers, extensions, deadline
                    )
            except httpx.TimeoutException:
                raise too_late from None
            except httpx.InvalidURL as exc:
                raise TransportError(f"invalid URL {url}: {exc}", permanent=True) from None
            except httpx.HTTPError as exc:
                if watchdog.fired:  # it cut the connection: a timeout, not a refusal
                    raise too_late from None
                raise TransportError(f"could not reach {url}: {exc}") from None
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise TransportError(f"{url} answered HTTP {status}; will retry")
        if status >= 400:
            raise TransportError(f"{url} refused the notification: HTTP {status}", permanent=True)
        return response


def _post_first_reachable(
    client: httpx.Client,
    targets: list[str],
    content: bytes,
    headers: dict,
    extensions: dict,
    deadline: float,
) -> httpx.Response:
    """POST to the first of `targets` (one per address of the name) that connects.

    Only a failed connection moves on to the next address, as a client given
    the name would: once connected, the request may have been received, so an
    error or timeout after that is the send's outcome. All of it fits in
    `deadline` (`TimeLeft`, `Watchdog`): N unresponsive addresses take one timeout, not N.
    The response is closed as soon as its headers are in: a body trickled
    byte by byte must not hold the send.
    """

    def attempt(target: str, addresses_left: int) -> httpx.Response:
        share = (deadline - time.monotonic()) / addresses_left
        timeout = TimeLeft(deadline, connect_share=share)
        with client.stream(
            "POST",
            target,
            content=content,
            headers=headers,
            extensions={**extensions, "timeout": timeout},
        ) as response:
            return response

    for tried, target in enumerate(targets[:-1]):
        try:
            return attempt(target, len(targets) - tried)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            if time.monotonic() >= deadline:
                raise  # time is up (the watchdog may have cut it): none left for the next
            continue
    return attempt(targets[-1], 1)
