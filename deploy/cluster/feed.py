"""The `feed` host: prices/tests/fake_coingecko.py as a server process, steered from outside.

The fake serves CoinGecko's API on the feed host's address; a Unix socket
beside it takes commands (move a price, inject a fault) from the harness,
which reaches it through the file system even while the feed host's network
is cut. One JSON object a line each way:

    {"method": "set_price", "args": ["bitcoin", "30000"]}  ->  {"ok": true, "result": null}

    python -m deploy.cluster.feed --host 10.77.0.50 --port 8080 --control PATH
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from deploy.cluster import serving
from prices.tests import fake_coingecko
from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins

# What the harness may call on the fake (its public API), plus two readers.
METHODS = (
    "set_price", "move", "move_all", "inject", "clear_faults", "price", "request_count",
    "requests_to",
)  # fmt: skip
COINS = 250


class FeedServer(FakeCoinGecko):
    """The fake on a given address instead of 127.0.0.1 and a free port."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(generate_coins(COINS))
        self.bind = (host, port)

    def start(self) -> FeedServer:
        # As FakeCoinGecko.start(), bound where the cluster's hosts look for it.
        self._stopping.clear()
        self._server = fake_coingecko._Server(self.bind, fake_coingecko._Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="feed", daemon=True)
        self._thread.start()
        return self

    def price(self, coin_id: str) -> Decimal:
        with self._lock:
            return self.coins[coin_id].price

    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def requests_to(self, path: str) -> int:
        """How many requests asked for this path ("/coins/markets": one a poll)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)


class _ControlHandler(socketserver.StreamRequestHandler):
    server: _ControlServer

    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(json.dumps(self.server.answer(line), default=str).encode() + b"\n")


class _ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, feed: FeedServer) -> None:
        self.feed = feed
        path.unlink(missing_ok=True)
        super().__init__(str(path), _ControlHandler)

    def answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if request["method"] not in METHODS:
                raise ValueError(f"unknown method {request['method']!r}")
            method = getattr(self.feed, request["method"])
            return {
                "ok": True,
                "result": method(*request.get("args", []), **request.get("kwargs", {})),
            }
        except Exception as exc:  # noqa: BLE001 (the caller gets every error back)
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


class FeedControl:
    """The harness's handle on the running feed: `feed.set_price("bitcoin", "30000")`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(self.path))
            request = {"method": method, "args": args, "kwargs": kwargs}
            sock.sendall(json.dumps(request, default=str).encode() + b"\n")
            answer = json.loads(sock.makefile("rb").readline())
        if not answer["ok"]:
            raise RuntimeError(f"feed {method}: {answer['error']}")
        return answer["result"]

    def set_price(self, coin_id: str, price: Decimal | str) -> None:
        self.call("set_price", coin_id, str(price))

    def move(self, coin_id: str, pct: Decimal | str | float) -> Decimal:
        return Decimal(self.call("move", coin_id, str(pct)))

    def move_all(self, pct: Decimal | str | float) -> None:
        self.call("move_all", str(pct))

    def inject(self, kind: str, **options: Any) -> None:
        self.call("inject", kind, **options)

    def clear_faults(self) -> None:
        self.call("clear_faults")

    def price(self, coin_id: str) -> Decimal:
        return Decimal(self.call("price", coin_id))

    def request_count(self) -> int:
        return self.call("request_count")

    def requests_to(self, path: str) -> int:
        return self.call("requests_to", path)


def main() -> None:
    args = serving.arguments(__doc__.splitlines()[0], "--control")
    feed = FeedServer(args.host, args.port).start()
    # Logos from the feed itself (COIN_LOGO_ORIGINS names it), never a CDN.
    feed.serve_images()
    control = _ControlServer(args.control, feed)
    threading.Thread(target=control.serve_forever, name="control", daemon=True).start()
    print(f"feed: CoinGecko API at {feed.url}, control at {args.control}", flush=True)
    serving.wait_for_stop()
    control.shutdown()
    feed.stop()


if __name__ == "__main__":
    main()
