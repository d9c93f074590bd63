"""The Transport base every channel subclasses, and its single error type."""

from __future__ import annotations

import base64
import socket
import time
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils import timezone

from common.tls import tls_context
from notifications import egress
from notifications.notices import Notice
from notifications.transports.deadline import TimeLeft


class TransportError(Exception):
    """A send that did not happen. Permanent errors are never retried."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message


def resolve(host: str) -> list[str]:
    """The addresses `host` resolves to now, in the resolver's order."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def private_address(host: str, addresses: list[str]) -> str | None:
    """Why the egress policy refuses one of `host`'s addresses, or None."""
    for address in addresses:
        if reason := egress.refusal(address, host):
            return reason
    return None


def pinned_request(
    url: str, headers: dict[str, str], deadline: float | None = None
) -> tuple[list[str], dict[str, str], dict]:
    """`url` rewritten to each address of its host, with the Host header and SNI kept.

    Resolving once lets the caller try the addresses in the resolver's order
    with one deadline for all (`post`). Every address is checked: a name
    with one refused address among others is refused before anything is
    sent (the egress guard would refuse only the connection to it). What
    the URL carried besides the address stays: its user-info as Basic auth
    (unless `headers` has an Authorization), and an IDN host as its IDNA
    form (xn--…), as httpx would send it. Returns the URLs, the headers and
    the httpx request extensions. The name lookup
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
            addresses = egress.before_deadline(deadline, lambda: resolve(host))
    except (OSError, UnicodeError) as exc:
        raise TransportError(f"could not resolve {host}: {exc}") from None
    if not addresses:
        raise TransportError(f"could not resolve {host}: no address")
    if not egress.allows_private():
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


class TooLate(Exception):
    """The send's time ran out before anything went out (`Transport.in_time`).

    Not a failure of the send: nothing was attempted, and the row it was for
    may already be another worker's (the sweeper hands a row over once its
    lease is over), so the caller records nothing.
    """


class Transport:
    """Sends notices to one user on one channel; raises TransportError on failure.

    With `not_after` (the row's lease), a send calls `in_time()` as its last
    step before anything goes out, after every read it needs (the
    destination, subscriptions, settings): a read that stalled past the
    lease (PostgreSQL on a cut link answers only once the link is back)
    must not lead to a send the sweeper has already given to another worker.
    """

    channel: ClassVar[str]

    def __init__(self, user, not_after: datetime | None = None) -> None:
        self.user = user
        self.not_after = not_after

    def in_time(self) -> None:
        """Raise TooLate once `not_after` has passed."""
        if self.not_after is not None and timezone.now() >= self.not_after:
            raise TooLate(f"the send's time ended at {self.not_after.isoformat()}")

    def send(self, notice: Notice) -> None:
        raise NotImplementedError


class HttpTransport(Transport):
    """POSTs with one timeout policy and one mapping of HTTP failures for everyone."""

    def timeout(self) -> float:
        """How long one send may take in all, whatever the host's number of addresses."""
        return settings.OUTBOUND_TIMEOUT_SECONDS

    def post(self, url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST `content` to `url`; the response, closed, its body unread.

        Everything from the name lookup to the reply's status line and
        headers fits in `timeout()` (`deadline`), under the egress guard;
        the body is not waited for, since the status says whether the
        notification arrived. A redirect is not followed: it is a failure.
        """
        response = self.exchange(url, content, headers)
        shown = without_credentials(url)
        status = response.status_code
        if 300 <= status < 400:
            raise TransportError(_redirected(shown, status, response), permanent=True)
        if status >= 500 or status in (408, 429):
            raise TransportError(f"{shown} answered HTTP {status}; will retry")
        if status >= 400:
            raise TransportError(f"{shown} refused the notification: HTTP {status}", permanent=True)
        return response

    def exchange(
        self, url: str, content: bytes, headers: dict[str, str], deadline: float | None = None
    ) -> httpx.Response:
        """`post`'s request, its reply whatever the status: for callers who read the status.

        Raises TransportError only when no reply came in time (or the egress
        policy refused the address). `deadline` (time.monotonic()) defaults
        to `timeout()` from now.
        """
        timeout = self.timeout()  # the whole send's, which `deadline` ends
        if deadline is None:
            deadline = time.monotonic() + timeout
        # Errors are stored on the Delivery and shown in pages and the admin.
        shown = without_credentials(url)
        too_late = TransportError(f"{shown} did not answer within {timeout:g} s")
        with egress.guard(deadline) as send:
            targets, headers, extensions = pinned_request(url, headers, deadline)
            try:
                # No proxy from the environment (HTTP(S)_PROXY): the guard would
                # check the proxy's address, not the receiver's. Nor .netrc
                # credentials for users' hosts. The operator's CA bundle
                # (SSL_CERT_FILE, SSL_CERT_DIR) still counts: the transport's own.
                with httpx.Client(
                    follow_redirects=False,
                    trust_env=False,
                    transport=httpx.HTTPTransport(verify=tls_context()),
                ) as client:
                    response = _post_first_reachable(
                        client, targets, content, headers, extensions, deadline
                    )
            except httpx.TimeoutException:
                raise too_late from None
            except httpx.InvalidURL as exc:
                raise TransportError(f"invalid URL {shown}: {exc}", permanent=True) from None
            except httpx.HTTPError as exc:
                if send.refused:
                    raise TransportError(send.refused, permanent=True) from None
                if send.fired:  # it cut the connection: a timeout, not a refusal
                    raise too_late from None
                raise TransportError(f"could not reach {shown}: {exc}") from None
        return response


def _redirected(url: str, status: int, response: httpx.Response) -> str:
    """The error for a reply that redirects: nothing was delivered, and we will not follow.

    A redirect is never followed, not even to the same host: the URL to
    save is the final one, and a POST that moves is a misconfiguration.
    """
    location = response.headers.get("Location", "").strip()
    shown = without_credentials(location)[:300] if location else "nowhere (no Location)"
    return (
        f"{url} redirected to {shown} (HTTP {status}); webhooks do not follow redirects, "
        "so nothing was delivered: save the final URL"
    )


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
    `deadline` (`TimeLeft`, the egress guard): N unresponsive addresses take one timeout, not N.
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
