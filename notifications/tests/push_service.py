"""A real Web Push service on 127.0.0.1, and browsers subscribed to it.

It does what a push service's side of RFC 8030/8291/8292 asks: takes the
POST, checks the VAPID token's signature against the key it carries (and,
if told, that this is our application server's key), its audience and
expiry, the TTL and Urgency headers, then decrypts the body with the
browser's private key and auth secret (http_ece) as the browser would. It
replies with a scripted status (201 by default). Used by the Web Push tests
and bench/push.py.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's push subscription: the keys only the browser holds."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))
    # Replies to the next pushes (HTTP statuses); then 201.
    script: list[int] = field(default_factory=list)

    @property
    def p256dh(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def subscription(self) -> dict:
        """What PushSubscription.toJSON() gives the page."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }


@dataclass
class Push:
    """One push the service accepted or refused, as checked and decrypted."""

    browser: Browser
    status: int
    headers: dict
    claims: dict
    vapid_key: str
    signature_valid: bool
    message: dict | None
    received_at: float


class PushService:
    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.pushes: list[Push] = []
        self.problems: list[str] = []
        # Our server's public key (base64url), once the test knows it.
        self.expected_vapid_key: str | None = None
        self.lock = threading.Lock()
        self.received = threading.Condition(self.lock)
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = service.take(self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # a burst's connections wait, not time out

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def new_browser(self) -> Browser:
        browser = Browser(endpoint=f"{self.url}/push/{uuid.uuid4().hex}")
        self.browsers[browser.endpoint.removeprefix(self.url)] = browser
        return browser

    def take(self, path: str, headers: dict, body: bytes) -> int:
        browser = self.browsers.get(path)
        if browser is None:
            return 404
        status = browser.script.pop(0) if browser.script else 201
        claims, key, valid = self._check_vapid(headers.get("Authorization", ""))
        message = None
        if 200 <= status < 300:
            try:
                plain = http_ece.decrypt(
                    body,
                    private_key=browser.private_key,
                    auth_secret=browser.auth,
                    version="aes128gcm",
                )
                message = json.loads(plain)
            except Exception as exc:  # recorded: the test asserts there were none
                self._problem(f"could not decrypt: {exc!r}")
        if headers.get("Content-Encoding") != "aes128gcm":
            self._problem(f"Content-Encoding {headers.get('Content-Encoding')!r}")
        push = Push(browser, status, headers, claims, key, valid, message, time.monotonic())
        with self.received:
            self.pushes.append(push)
            self.received.notify_all()
        return status

    def _check_vapid(self, authorization: str) -> tuple[dict, str, bool]:
        """The token's claims and key, and whether its signature is the key's."""
        try:
            valid = bool(Vapid02.verify(authorization))
            parts = dict(item.split("=", 1) for item in authorization.split(" ", 1)[1].split(","))
            claims = json.loads(unb64url(parts["t"].split(".")[1]))
        except Exception as exc:
            self._problem(f"bad Authorization {authorization[:80]!r}: {exc!r}")
            return {}, "", False
        if self.expected_vapid_key and parts["k"] != self.expected_vapid_key:
            self._problem("signed with another VAPID key")
            valid = False
        return claims, parts["k"], valid

    def _problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def accepted(self) -> list[Push]:
        with self.lock:
            return [push for push in self.pushes if 200 <= push.status < 300]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Push]:
        """The first `count` accepted pushes, waiting for them."""
        deadline = time.monotonic() + timeout
        with self.received:
            while len([p for p in self.pushes if 200 <= p.status < 300]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {count} pushes: {self.pushes}")
                self.received.wait(left)
            return [push for push in self.pushes if 200 <= push.status < 300][:count]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
