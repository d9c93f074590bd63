"""An address plan and a resolver the egress tests control: nothing leaves loopback.

`public_loopback` makes chosen loopback addresses count as public for every
classification built on `ipaddress` (the egress policy's, and the checks it
replaced), so a "public" server can run on 127.0.0.2 while 127.0.0.1 stays
loopback: the private network or metadata service of the tests.
`rebinding_names` answers a name with one address to every check and with
another to the lookup a client makes to connect, as a rebinding DNS server
does between a check and a send.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PUBLIC = "127.0.0.2"  # counts as public under `public_loopback`
PRIVATE = "127.0.0.1"  # loopback, as ever


def public_loopback(monkeypatch, *addresses: str) -> None:
    """Make `addresses` (loopback IPv4 addresses) count as public, in `ipaddress` itself."""
    plan = set(addresses)
    for name, public_value in (("is_loopback", False), ("is_private", False), ("is_global", True)):
        original = getattr(ipaddress.IPv4Address, name).fget

        def classify(self, original=original, public_value=public_value):
            return public_value if str(self) in plan else original(self)

        monkeypatch.setattr(ipaddress.IPv4Address, name, property(classify))


def rebinding_names(monkeypatch, names: dict[str, tuple[str, str]]) -> None:
    """Resolve each name to its first address, but to its second when a client
    looks it up to connect (inside a `create_connection`: urllib3's, socket's).
    Other names are looked up for real.
    """
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in names:
            return real(host, port, *args, **kwargs)
        checked, connected = names[host]
        frame, connecting = sys._getframe(1), False
        while frame is not None and not connecting:
            connecting = frame.f_code.co_name == "create_connection"
            frame = frame.f_back
        address = connected if connecting else checked
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class HttpServer:
    """An HTTP server on `address` that records requests and plays scripted replies.

    Each request takes the next reply of `script`, (status, headers); the
    last one stays. Used as a receiver, a redirector, or the private service
    that must receive nothing.
    """

    def __init__(self, address: str, script: list[tuple[int, dict[str, str]]] | None = None):
        self.requests: list[dict] = []
        self.script = script or [(200, {})]
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, headers = (
                    server.script.pop(0) if len(server.script) > 1 else server.script[0]
                )
                self.send_response(status)
                for name, value in {"Content-Length": "2", **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_PUT = do_POST

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer((address, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://{address}:{self.port}/hook"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def started_servers() -> Iterator[list[HttpServer]]:
    """For a fixture: a list the test adds the servers it starts to; all stopped after."""
    started: list[HttpServer] = []
    yield started
    for server in started:
        server.stop()


def tarpit(address: str) -> tuple[socket.socket, list[socket.socket]]:
    """A listener on `address` that accepts every connection and never answers.

    Returns the listener and the list its accepted connections are kept in
    (close both when done).
    """
    listener = socket.create_server((address, 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return  # closed

    threading.Thread(target=accept, daemon=True).start()
    return listener, accepted
