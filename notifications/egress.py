"""The egress policy: where a notification a user aims may connect, and for how long.

One rule for every outbound connection a user can aim (webhooks, every Apprise
service, test sends and retries): only globally routable addresses, unless
OUTBOUND_ALLOW_PRIVATE_IPS opts a self-hoster's own network in.

It is enforced on the address actually connected to, not on a URL: a send runs
inside `guard(deadline)`, and while a guard is active in the current context
(threads that copy it, as Apprise's pools do, included) an audit hook on
"socket.connect" checks each connection's address before it is made. So every
redirect hop, every plugin (HTTP, SMTP, anything built on Python sockets) and
every DNS answer is checked, and the address checked is the address connected
to: no window for DNS rebinding. The same guard shuts down every socket
connected under it at the deadline, so one deadline bounds the whole send.

At validation time there is no network: `literal_address_refusal` refuses
only a URL whose host is an IP literal the policy refuses; names are checked
when the send connects.
"""

from __future__ import annotations

import contextvars
import ipaddress
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from django.conf import settings

T = TypeVar("T")

SETTING = "OUTBOUND_ALLOW_PRIVATE_IPS"
ADVICE = f"notifications go to public hosts only (set {SETTING}=True to allow your own network)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Local-use NAT64 (RFC 8215): an operator's own translator, whatever it embeds.
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# IPv6 forms whose last 32 bits are the IPv4 address really reached: translated
# (SIIT), well-known NAT64 and the deprecated IPv4-compatible form. Mapped
# (::ffff:0:0/96), 6to4 and Teredo have ipaddress accessors.
_EMBEDDING_LOW_32 = tuple(
    ipaddress.ip_network(net) for net in ("::ffff:0:0:0/96", "64:ff9b::/96", "::/96")
)
# Documentation (RFC 9637): newer than Python 3.11's tables.
_DOCUMENTATION_V6 = ipaddress.ip_network("3fff::/20")
# Host spellings inet_aton (and so getaddrinfo) reads as IPv4: 127.1, 0x7f.1, 2130706433.
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)


def kind(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is ("a loopback address"...), or None if public.

    `ipaddress.is_global` alone misses multicast, site-local and every IPv6
    form that carries an IPv4 address: those are judged by the IPv4 address
    they lead to.
    """
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        embedded = _embedded_ipv4(ip)
        for v4 in embedded:
            if inner := kind(v4):
                return f"an address embedding {v4}, {inner}"
        if embedded and not ip.teredo:
            return None  # it reaches the public IPv4 address it embeds
        if ip.is_site_local:
            return "a site-local address"
        if ip in _DOCUMENTATION_V6:
            return "a documentation address"
    elif ip in _CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private network address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if ip.ipv4_mapped:
        return [ip.ipv4_mapped]
    if ip.sixtofour:
        return [ip.sixtofour]
    if ip.teredo:
        return list(ip.teredo)  # the Teredo server and the client's NAT address
    if any(ip in net for net in _EMBEDDING_LOW_32):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def refusal(address: str, host: str | None = None) -> str | None:
    """Why the policy refuses IP `address` (what `host` resolved to, if given), or None.

    The message names the setting that allows it. Raises ValueError if
    `address` is not an IP address. The opt-in is not consulted here:
    callers do (`allows_private`).
    """
    what = kind(ipaddress.ip_address(address))
    if what is None:
        return None
    if host and host != address:
        return f"{host} resolves to {address}, {what}; {ADVICE}"
    return f"{address} is {what}; {ADVICE}"


def allows_private() -> bool:
    """Whether the self-hoster opted their own network in (OUTBOUND_ALLOW_PRIVATE_IPS)."""
    return settings.OUTBOUND_ALLOW_PRIVATE_IPS


def literal_address_refusal(url: str) -> str | None:
    """Why the policy refuses `url`'s host, if it is an IP literal; None otherwise.

    No DNS lookup, no network: for validating what a user saves. A host name
    is let through here and checked when a send connects (`guard`). `url`
    may also be "//host".
    """
    if allows_private():
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None  # not a URL: syntax validation says so
    if not host:
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if not _NUMERIC_HOST.match(host):
            return None
        try:  # 127.1 and 0x7f000001 are 127.0.0.1 to the resolver
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    what = kind(ip)
    return f"{host} is {what}; {ADVICE}" if what else None


# --- Connect-time enforcement ------------------------------------------------------


class EgressRefused(ConnectionRefusedError):
    """A connection the policy refused: clients treat it as a failed connection."""


class SendExpired(TimeoutError):
    """A connection attempted after its send's deadline (a thread left running)."""


_active: contextvars.ContextVar[Guard | None] = contextvars.ContextVar(
    "notifications_egress_guard", default=None
)
_hook_installed = False
_hook_lock = threading.Lock()
# Audit events that name a peer address. connect_ex raises "socket.connect" too.
_PEER_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def _audit(event: str, args: tuple) -> None:
    # Called for every audited event in the process: keep the miss cheap.
    if event in _PEER_EVENTS and (active := _active.get()) is not None:
        active.check(event, args[0], args[1])


def _install_hook() -> None:
    """Add the audit hook once per process (hooks cannot be removed).

    Installed on the first guard rather than at start, so processes that
    never send (web, beat) never pay for a hook on every audited event.
    """
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True


class Guard:
    """One send: the policy for each connection made under it, and its deadline.

    Use as `with egress.guard(deadline) as send:`. Each connection is checked
    (`check`) and held as a duplicate of its socket's file descriptor, which
    outlives the library's socket object (wrapping it for TLS detaches it)
    and cannot stand for another file until the guard closes it on exit. At
    the deadline every one is shut down, which ends a blocked connect, read
    or write at once: the send fails with its library's connection error and
    `fired` tells that the deadline caused it. `refused` is the first
    refusal, with its reason, if the policy refused a connection.
    """

    def __init__(self, deadline: float, allow_private: bool) -> None:
        self.deadline = deadline
        self.allow_private = allow_private
        self.fired = False
        self.refusals: list[str] = []
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._finished = False
        self._token: contextvars.Token | None = None
        self._timer = threading.Timer(max(deadline - time.monotonic(), 0.0), self._fire)
        self._timer.daemon = True

    @property
    def refused(self) -> str | None:
        return self.refusals[0] if self.refusals else None

    def __enter__(self) -> Guard:
        _install_hook()
        self._token = _active.set(self)
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        _active.reset(self._token)
        self._timer.cancel()
        with self._lock:
            self._finished = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def check(self, event: str, sock: socket.socket, address: object) -> None:
        """Refuse a connection (or datagram) to an address the policy refuses.

        Runs in the audit hook, in whichever thread connects, before the
        connection is made. Non-IP sockets (AF_UNIX) pass.
        """
        if sock.family not in _IP_FAMILIES or not isinstance(address, tuple):
            return
        if self._finished or self.fired:
            raise SendExpired("the send's deadline has passed")
        if not self.allow_private:
            reason = self._refusal(address[0])
            if reason:
                with self._lock:
                    self.refusals.append(reason)
                raise EgressRefused(reason)
        if event == "socket.connect":
            self._watch(sock)

    @staticmethod
    def _refusal(host: object) -> str | None:
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        try:
            return refusal(str(host))
        except ValueError:
            # Python would resolve the name itself, after this check: the
            # address it connects to could not be checked. Libraries resolve
            # first and connect to the address (urllib3, httpx, smtplib).
            return f"{host!r} is connected to by name, so its address cannot be checked; {ADVICE}"

    def _watch(self, sock: socket.socket) -> None:
        connection = socket.fromfd(sock.fileno(), sock.family, sock.type, sock.proto)
        with self._lock:
            self._connections.append(connection)
            if self.fired:  # connecting just as time ran out
                _cut(connection)

    def _fire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.fired = True
            for connection in self._connections:
                _cut(connection)

    def run(self, call: Callable[[], T]) -> T:
        """`call()`'s result under this guard, or TimeoutError at the deadline."""
        return before_deadline(self.deadline, call)


def guard(deadline: float) -> Guard:
    """The policy for one send ending at `deadline` (time.monotonic())."""
    return Guard(deadline, allow_private=allows_private())


def _cut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the peer or the library ended it already


def before_deadline(deadline: float, call: Callable[[], T]) -> T:
    """`call()`'s result, or TimeoutError if it has none by `deadline`.

    For blocking calls nothing can interrupt, such as getaddrinfo: the call
    runs in a daemon thread that is left to finish on its own (the resolver
    gives up after its own timeouts) while the send fails in time. The
    thread runs in a copy of the caller's context, so under the caller's
    guard: a connection it makes after the guard ended is refused.
    """
    results: list[T] = []
    errors: list[BaseException] = []
    done = threading.Event()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            results.append(context.run(call))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name="before-deadline").start()
    if not done.wait(max(deadline - time.monotonic(), 0.0)):
        raise TimeoutError("no answer before the deadline")
    if errors:
        raise errors[0]
    return results[0]
