"""The smoke check: one alert, from sign-up to the email, across the whole cluster.

A user with a confirmed address is made by manage.py on node-a; from the
clients host, through lb, it gets an API token, opens the price WebSocket
and sets an `above` alert on bitcoin (email and in-app); the feed moves
bitcoin across the target; then the email must reach the mail host exactly
once and the socket must carry the new price and the alert.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from websockets.asyncio.client import connect

from deploy.cluster.cluster import Cluster
from deploy.cluster.topology import WEB_PORT

WAIT_SECONDS = 60.0
# Evaluated in the product's own settings, on node-a (manage.py shell -c).
CREATE_USER = """
import os
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
user = get_user_model().objects.create_user(
    os.environ["SMOKE_USERNAME"], os.environ["SMOKE_EMAIL"], os.environ["SMOKE_PASSWORD"]
)
EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
"""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class SmokeResult:
    checks: list[Check] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def report(self) -> str:
        lines = [f"  {'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in self.checks]
        timing = ", ".join(f"{name} {value:.1f} s" for name, value in self.seconds.items())
        return "\n".join([*lines, f"  timings: {timing}"])


class SocketListener:
    """A price WebSocket held open from the clients host, recording every frame."""

    def __init__(self, cluster: Cluster, token: str) -> None:
        self.url = f"ws://{cluster.address('lb')}:{WEB_PORT}/ws/prices/"
        self.token = token
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.future = cluster.submit("clients", asyncio.run, self._listen())

    async def _listen(self) -> None:
        # A script's socket: the token in the handshake, no Origin (docs/websocket.md).
        headers = {"Authorization": f"Token {self.token}"}
        async with connect(self.url, additional_headers=headers, open_timeout=10) as socket:
            self.connected.set()
            while not self.stop.is_set():
                try:
                    text = await asyncio.wait_for(socket.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                self.frames.append((time.time(), json.loads(text)))

    def first(self, kind: str, matches=lambda frame: True) -> tuple[float, dict] | None:
        return next(((t, f) for t, f in self.frames if f["type"] == kind and matches(f)), None)

    def close(self) -> None:
        self.stop.set()
        self.future.result(timeout=10)


def price_at_least(coin: str, target: Decimal):
    def matches(frame: dict[str, Any]) -> bool:
        column = frame["fields"].index("price")
        return any(row[0] == coin and Decimal(row[column]) >= target for row in frame["coins"])

    return matches


def wait_until(condition, seconds: float = WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    return None


def run(cluster: Cluster) -> SmokeResult:
    result = SmokeResult()
    began = time.monotonic()
    suffix = secrets.token_hex(4)
    username, email = f"smoke-{suffix}", f"smoke-{suffix}@example.com"
    password = secrets.token_urlsafe(16)
    cluster.manage(
        "node-a",
        "shell",
        "-c",
        CREATE_USER,
        env={"SMOKE_USERNAME": username, "SMOKE_EMAIL": email, "SMOKE_PASSWORD": password},
    )
    result.add("user", True, f"{username} made by manage.py on node-a")

    answer = cluster.http(
        "POST",
        "/api/v1/auth/token/",
        json={"username": username, "password": password, "name": "smoke"},
    )
    if not result.add("token", answer.status_code == 201, f"{answer.status_code} through lb"):
        result.checks[-1].detail += f": {answer.text[:300]}"
        return result
    token = answer.json()["token"]
    auth = {"Authorization": f"Token {token}"}

    listener = SocketListener(cluster, token)
    try:
        if not result.add("socket", listener.connected.wait(15), "opened through lb"):
            return result
        price = cluster.feed.price("bitcoin")
        target = (price * Decimal("1.05")).quantize(Decimal("0.01"))
        answer = cluster.http(
            "POST",
            "/api/v1/alerts/",
            headers=auth,
            json={
                "coin": "bitcoin",
                "condition": "above",
                "target": str(target),
                "channels": ["email", "in_app"],
            },
        )
        detail = f"{answer.status_code}: bitcoin above {target} (now {price})"
        if not result.add("alert", answer.status_code == 201, detail):
            result.checks[-1].detail += f": {answer.text[:300]}"
            return result
        alert_id = answer.json()["id"]

        moved_at = time.time()
        cluster.feed.set_price("bitcoin", (target * Decimal("1.01")).quantize(Decimal("0.01")))
        mails = wait_until(lambda: cluster.mail.to(email))
        frame = wait_until(lambda: listener.first("prices", price_at_least("bitcoin", target)))
        popup = wait_until(lambda: listener.first("alert"), seconds=10)
        time.sleep(3)  # room for a duplicate to show
    finally:
        listener.close()
    _check_mail(result, cluster, email, mails, moved_at)
    if frame:
        result.seconds["price to frame"] = frame[0] - moved_at
    result.add("price frame", bool(frame), "bitcoin's new price on the socket through lb")
    result.add("alert frame", bool(popup), "the in-app alert on the same socket")
    events = cluster.sql("SELECT count(*) FROM alerts_alertevent WHERE alert_id = %s", [alert_id])
    deliveries = cluster.sql(
        "SELECT channel, status FROM notifications_delivery WHERE event_id IN "
        "(SELECT id FROM alerts_alertevent WHERE alert_id = %s) ORDER BY channel",
        [alert_id],
    )
    result.add("fired once", events[0][0] == 1, f"{events[0][0]} AlertEvent row(s)")
    sent = all(status == "sent" for _channel, status in deliveries) and len(deliveries) == 2
    result.add("deliveries", sent, ", ".join(f"{c}: {s}" for c, s in deliveries) or "none")
    result.seconds["smoke"] = time.monotonic() - began
    return result


def _check_mail(result: SmokeResult, cluster: Cluster, email: str, mails, moved_at: float) -> None:
    if not mails:
        result.add("email", False, f"nothing for {email} within {WAIT_SECONDS:.0f} s")
        return
    result.seconds["price to email"] = mails[0].accepted_at - moved_at
    final = cluster.mail.to(email)
    detail = f"{len(final)} message(s), {final[0].message_id}, {final[0].subject!r}"
    result.add("email", len(final) == 1 and not cluster.mail.duplicates(), detail)
