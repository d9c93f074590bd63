"""One deadline for a whole HTTP send: resolving, connecting, TLS, the request and the reply.

httpcore takes each phase's timeout once, as the phase starts, and applies
it to every socket operation of the phase, so a server that sends a byte
now and then (headers, a TLS handshake, a body) is never timed out.
`TimeLeft` gives each phase only the time left; `Watchdog` ends whatever is
still blocked when the deadline comes; `before_deadline` bounds what runs
outside any socket we hold (the name lookup).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimeLeft(dict):
    """httpcore's "timeout" extension, answering each wait with the time left.

    httpcore looks up a phase's timeout as the phase starts (connecting,
    sending, awaiting the reply), so each phase gets only what the earlier
    ones left of the send's deadline. A connection attempt gets at most
    `connect_share`: an equal part of the time left for each address still
    to try, so a dead address leaves time for the next. The TLS handshake
    reuses the connect timeout; `Watchdog` stops it at the deadline.
    """

    def __init__(self, deadline: float, connect_share: float) -> None:
        super().__init__()
        self.deadline = deadline
        self.connect_share = connect_share

    def get(self, phase: str, default: object = None) -> float:
        left = self.deadline - time.monotonic()
        if phase == "connect":
            left = min(left, self.connect_share)
        # Never 0 or less: a zero socket timeout means non-blocking, not "time is up".
        return max(left, 0.001)


class Watchdog:
    """Cuts the send's connections at its deadline, whatever they are waiting for.

    Use as a context manager around the send and pass `trace` as httpcore's
    "trace" extension. At the deadline every connection the send opened is
    shut down, which ends a blocked read or write at once (end of file, or
    a broken pipe): the send fails with an httpx error, and `fired` tells
    that the deadline caused it. Each connection is held as a duplicate of
    its socket's file descriptor, which outlives httpcore's socket object
    (wrapping it for TLS detaches it) and cannot stand for another file,
    however httpcore closes its own, until the watchdog closes it on exit.
    A TCP connect is not cut (it has no socket yet) but never outlasts the
    deadline: its timeout is the time left (`TimeLeft`).
    """

    def __init__(self, deadline: float) -> None:
        self.fired = False
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._finished = False
        self._timer = threading.Timer(max(deadline - time.monotonic(), 0.0), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._finished = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def trace(self, event: str, info: dict) -> None:
        """httpcore's "trace" callback: watch each connection once it is open."""
        if event != "connection.connect_tcp.complete":
            return
        connection = info["return_value"].get_extra_info("socket").dup()
        with self._lock:
            self._connections.append(connection)
            if self.fired:  # connected just as time ran out
                _cut(connection)

    def _fire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.fired = True
            for connection in self._connections:
                _cut(connection)


def _cut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the peer or httpcore ended it already


def before_deadline(deadline: float, call: Callable[[], T]) -> T:
    """`call()`'s result, or TimeoutError if it has none by `deadline`.

    For blocking calls nothing can interrupt, such as getaddrinfo: the call
    runs in a daemon thread that is left to finish on its own (the resolver
    gives up after its own timeouts) while the send fails in time.
    """
    results: list[T] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            results.append(call())
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
