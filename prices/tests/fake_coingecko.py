"""A fake CoinGecko API: a real HTTP server on 127.0.0.1 for tests and benchmarks.

It serves CoinGecko v3's documented response shapes for the endpoints we use,
from an in-memory table of coins that tests move at will, and it misbehaves
on demand the ways the real API does (rate limits, 5xx, slow or broken
bodies, bad values for single coins). It needs neither pytest nor Django::

    from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins

    with FakeCoinGecko(generate_coins(250)) as fake:
        settings.COINGECKO_BASE_URL = fake.url   # http://127.0.0.1:PORT/api/v3
        fake.set_price("bitcoin", "30000")       # also bumps last_updated
        fake.move("ethereum", -5)                # -5 %
        fake.move_all(1)                         # every coin +1 %, a new trade each
        fake.inject("rate_limit", retry_after=30)          # next request: 429
        fake.inject("500", times=3)                        # next 3 requests: 500
        fake.inject("null", coin="cardano")                # next response with it
        fake.inject("negative", coin="solana", field="market_cap", times=None)
        ...
        fake.paths()                      # ["/coins/markets", ...]; fake.requests has
                                          # each request's .path, .query, .headers
        fake.connections()                # client addresses: one per TCP connection

`FakeCoinGecko(coins, api_key="k", plan="demo"|"pro")` demands that key in the
plan's header and answers 401 without it, as CoinGecko does.

Endpoints (paths below `fake.url`):
    /ping                        {"gecko_says": "(V3) To the Moon!"}
    /simple/price                ids, vs_currencies, include_market_cap, include_24hr_vol,
                                 include_24hr_change, include_last_updated_at
    /coins/markets               vs_currency (required), ids, order, per_page (1..250,
                                 larger is clamped), page; unknown ids are omitted
    /coins/list                  [{"id", "symbol", "name"}] for every coin
    /coins/{id}/market_chart     vs_currency, days (int or "max"), interval=daily;
                                 granularity as CoinGecko: days=1 5-minutely, 2..90 hourly,
                                 above 90 daily; 404 for an unknown id
    /exchange_rates              {"rates": {code: {"name", "unit", "value", "type"}}}: units
                                 of each currency per 1 BTC, from bitcoin's and ether's
                                 prices and VS_RATES unless set: `fake.set_exchange_rate("eur",
                                 "25000")`, `fake.set_exchange_rate("gbp", None)` (left out)

Coin images: `fake.serve_images()` makes /coins/markets name an image on the fake
itself (`fake.image_url(id)`, below `fake.origin`, outside the API) and serves a
small PNG for each coin there; `fake.set_image(id, body, content_type)` changes
what one answers (any bytes, any type). `png(width, height, padding)` makes one.

Request faults, `inject(kind, times=1, path=None, after=0, **kw)`, each used up by
one request (to `path` only when given; `times=None` means until `clear_faults()`;
`after=n` lets the first n such requests through, e.g. to fail a later page):
    "rate_limit" / "429"   429 {"status": {"error_code": 429, ...}}; kw retry_after (seconds
                           or an HTTP date string) adds a Retry-After header
    "server_error" / "500" 500 with an HTML body
    "unavailable" / "503"  503 with an HTML body; kw retry_after adds Retry-After
    "slow"                 waits kw delay seconds (default 2) before a normal answer
    "truncated"            200, the JSON body cut in half (Content-Length matches the cut)
    "disconnect"           200, Content-Length of the whole body, half sent, then closed
    "malformed"            200, application/json that is not JSON
    "wrong_shape"          200, a JSON object where a list is due (and vice versa)

Coin data faults, `inject(kind, coin=id, field="current_price", times=1)`, each
used up by one response that contains the coin (markets, simple price, chart, and
/coins/list with field="symbol" or "name"):
    "null", "negative", "non_numeric", "missing", "absurd" (1e20 for numbers, a date
    in 2099 for last_updated), "nan", "zero". Names like "null_price" or
    "negative_price" are accepted too and mean field="current_price". On a
    market chart the fault spoils the middle price point.

Unknown ids are simply left out of responses, as CoinGecko does.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import struct
import threading
import traceback
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_PREFIX = "/api/v3"
IMAGE_PREFIX = "/coins/images/1/large/"
MAX_PER_PAGE = 250

# Conversion rates from USD for the vs_currencies the fake knows.
VS_RATES = {
    "usd": Decimal("1"),
    "eur": Decimal("0.92"),
    "gbp": Decimal("0.79"),
    "jpy": Decimal("149.5"),
    "chf": Decimal("0.88"),
}

# /exchange_rates' names, units and types (CoinGecko's own), for the
# currencies it answers: VS_RATES' and the two crypto ones.
EXCHANGE_RATE_NAMES = {
    "btc": ("Bitcoin", "BTC", "crypto"),
    "eth": ("Ether", "ETH", "crypto"),
    "usd": ("US Dollar", "$", "fiat"),
    "eur": ("Euro", "€", "fiat"),
    "gbp": ("British Pound Sterling", "£", "fiat"),
    "jpy": ("Japanese Yen", "¥", "fiat"),
    "chf": ("Swiss Franc", "Fr.", "fiat"),
}

# The product's ten default coins, with prices from 2023-03.
KNOWN_COINS = [
    ("bitcoin", "btc", "Bitcoin", "23147.31", "19300000"),
    ("ethereum", "eth", "Ethereum", "1647.12", "120400000"),
    ("cardano", "ada", "Cardano", "0.3312", "34700000000"),
    ("solana", "sol", "Solana", "21.45", "386000000"),
    ("polkadot", "dot", "Polkadot", "6.13", "1170000000"),
    ("avalanche-2", "avax", "Avalanche", "16.74", "325000000"),
    ("chainlink", "link", "Chainlink", "6.92", "517000000"),
    ("polygon-ecosystem-token", "pol", "POL (ex-MATIC)", "1.182", "8900000000"),
    ("uniswap", "uni", "Uniswap", "6.01", "762000000"),
    ("cosmos", "atom", "Cosmos Hub", "12.05", "286000000"),
]

REQUEST_FAULTS = {
    "rate_limit": "rate_limit",
    "429": "rate_limit",
    "server_error": "server_error",
    "500": "server_error",
    "unavailable": "unavailable",
    "503": "unavailable",
    "slow": "slow",
    "truncated": "truncated",
    "disconnect": "disconnect",
    "malformed": "malformed",
    "wrong_shape": "wrong_shape",
}
_TWELVE_DIGITS = Context(prec=12)
DATA_FAULTS = ("null", "negative", "non_numeric", "missing", "absurd", "nan", "zero")


@dataclass
class FakeCoin:
    """One coin as the fake knows it; prices in USD."""

    id: str
    symbol: str
    name: str
    price: Decimal
    circulating_supply: Decimal
    total_volume: Decimal
    price_change_percentage_24h: Decimal
    last_updated: datetime

    @property
    def market_cap(self) -> Decimal:
        return (self.price * self.circulating_supply).quantize(Decimal("1"))

    # Where /coins/markets says its image is; CoinGecko's CDN unless set
    # (`FakeCoinGecko.serve_images()` points every coin at the fake itself).
    image_url: str = ""

    @property
    def image(self) -> str:
        return self.image_url or f"https://coin-images.coingecko.com{IMAGE_PREFIX}{self.id}.png"


def generate_coins(n: int = 250, seed: int = 1) -> list[FakeCoin]:
    """n coins: the ten default coins first, then made-up ones with realistic prices.

    Made-up prices spread log-uniformly from 1e-8 to 5e4 USD (8 significant
    digits) so validation and storage see sub-cent and large prices alike. One
    made-up coin reuses the symbol "btc", as on CoinGecko.
    """
    rng = random.Random(seed)
    now = datetime.now(UTC)
    coins = []
    for coin_id, symbol, name, price, supply in KNOWN_COINS[:n]:
        coins.append(_coin(rng, coin_id, symbol, name, Decimal(price), Decimal(supply), now))
    for i in range(len(coins), n):
        price = Decimal(f"{10 ** rng.uniform(-8, 4.7):.8g}")
        # Below the ten known coins' market caps, so those keep the top ranks.
        market_cap = Decimal(f"{10 ** rng.uniform(5, 10):.6g}")
        supply = max((market_cap / price).quantize(Decimal("1")), Decimal(1))
        symbol = "btc" if i == 10 else f"c{i:04d}"
        coins.append(_coin(rng, f"coin-{i:05d}", symbol, f"Coin {i}", price, supply, now))
    return coins


def _coin(rng, coin_id, symbol, name, price, supply, now) -> FakeCoin:
    volume = (price * supply * Decimal(f"{rng.uniform(0.005, 0.2):.4f}")).quantize(Decimal("1"))
    return FakeCoin(
        id=coin_id,
        symbol=symbol,
        name=name,
        price=price,
        circulating_supply=supply,
        total_volume=volume,
        price_change_percentage_24h=Decimal(f"{rng.uniform(-12, 12):.5f}"),
        last_updated=now - timedelta(seconds=rng.uniform(5, 60)),
    )


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received; path is relative to `FakeCoinGecko.url`."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    at: datetime
    client: tuple[str, int] = ("", 0)  # the client's address: one per connection


@dataclass
class _Fault:
    kind: str
    remaining: int | None  # None: until cleared
    path: str | None = None
    coin: str | None = None
    field: str = "current_price"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    after: int = 0  # matching requests let through before the fault starts

    def use(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1


class _HttpError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body


class FakeCoinGecko:
    """The fake API server. Start with `start()` or `with`; stop with `stop()`.

    `api_key` makes the fake demand that key in the plan's header
    (`x-cg-demo-api-key` for plan "demo", `x-cg-pro-api-key` for "pro") and
    answer 401 otherwise, like CoinGecko.
    """

    def __init__(
        self,
        coins: Iterable[FakeCoin] | None = None,
        *,
        api_key: str = "",
        plan: str = "demo",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.coins: dict[str, FakeCoin] = {
            c.id: c for c in (generate_coins() if coins is None else coins)
        }
        self.api_key = api_key
        self.plan = plan
        self.clock = clock or (lambda: datetime.now(UTC))
        self.requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self.images: dict[str, tuple[bytes, str]] = {}
        # Exchange rates set by tests (units per 1 BTC; None: left out).
        self.exchange_rate_overrides: dict[str, Decimal | None] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> FakeCoinGecko:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval makes stop() quick: tests start many servers.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-coingecko",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes up "slow" responses
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeCoinGecko:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """scheme://host:port of the server, where its images are."""
        return self.url[: -len(API_PREFIX)]

    def image_url(self, coin_id: str) -> str:
        return f"{self.origin}{IMAGE_PREFIX}{coin_id}.png"

    def serve_images(self) -> None:
        """Name images on this server in /coins/markets, and serve a PNG for each coin."""
        with self._lock:
            for coin in self.coins.values():
                coin.image_url = self.image_url(coin.id)

    def set_image(self, coin_id: str, body: bytes, content_type: str = "image/png") -> None:
        with self._lock:
            self.images[coin_id] = (body, content_type)

    def _image(self, path: str) -> tuple[bytes, str]:
        coin_id = path[len(IMAGE_PREFIX) :].removesuffix(".png")
        with self._lock:
            if coin_id in self.images:
                return self.images[coin_id]
            if coin_id in self.coins:
                return png(), "image/png"
        raise _HttpError(404, {"error": "not found"})

    @property
    def url(self) -> str:
        """The base URL to put in COINGECKO_BASE_URL (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FakeCoinGecko is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    # --- changing the market -----------------------------------------------------

    def set_price(self, coin_id: str, price: Decimal | str | float) -> None:
        """Set a coin's USD price and bump its last_updated, like a new trade."""
        with self._lock:
            coin = self.coins[coin_id]
            coin.price = Decimal(str(price))
            self._touch(coin)

    def move(self, coin_id: str, pct: Decimal | str | float) -> Decimal:
        """Move a coin's price by pct percent; returns the new price."""
        with self._lock:
            coin = self.coins[coin_id]
            factor = 1 + Decimal(str(pct)) / 100
            self.set_price(coin_id, _TWELVE_DIGITS.plus(coin.price * factor))
            return coin.price

    def move_all(self, pct: Decimal | str | float) -> None:
        """Move every coin by pct percent (one new trade each)."""
        with self._lock:
            for coin_id in self.coins:
                self.move(coin_id, pct)

    def set_exchange_rate(self, code: str, per_btc: Decimal | str | float | None) -> None:
        """Make /exchange_rates say `per_btc` units of `code` per 1 BTC (None: leave it out)."""
        with self._lock:
            self.exchange_rate_overrides[code] = None if per_btc is None else Decimal(str(per_btc))

    def exchange_rates(self) -> dict[str, Decimal]:
        """Units of each currency per 1 BTC, as /exchange_rates answers them now.

        Consistent with /coins/markets unless a test set its own: fiat from
        bitcoin's USD price and VS_RATES, ether from ethereum's price.
        """
        with self._lock:
            btc_usd = self.coins["bitcoin"].price if "bitcoin" in self.coins else Decimal(23147)
            rates = {code: btc_usd * rate for code, rate in VS_RATES.items()}
            rates["btc"] = Decimal(1)
            if "ethereum" in self.coins:
                rates["eth"] = _TWELVE_DIGITS.divide(btc_usd, self.coins["ethereum"].price)
            rates.update(self.exchange_rate_overrides)
            return {code: value for code, value in rates.items() if value is not None}

    def _touch(self, coin: FakeCoin) -> None:
        # Strictly later than before, so every move is a new (coin, time).
        now = self.clock()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        coin.last_updated = max(now, coin.last_updated + timedelta(milliseconds=1))

    # --- faults ------------------------------------------------------------------

    def inject(
        self,
        fault: str,
        times: int | None = 1,
        *,
        path: str | None = None,
        coin: str | None = None,
        field: str | None = None,
        after: int = 0,
        **options: Any,
    ) -> None:
        """Make the next `times` requests (or responses with `coin`) misbehave.

        See the module docstring for the kinds and their options.
        """
        kind, default_field = _data_fault_kind(fault)
        if kind in DATA_FAULTS:
            if coin is None:
                raise ValueError(f"data fault {fault!r} needs coin=<id>")
            spec = _Fault(kind, times, path, coin, field or default_field, options)
        elif fault in REQUEST_FAULTS:
            spec = _Fault(REQUEST_FAULTS[fault], times, path, after=after, options=options)
        else:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._faults.append(spec)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        with self._lock:
            return [r.path for r in self.requests]

    def connections(self) -> set[tuple[str, int]]:
        """The client addresses seen: one per TCP connection (keep-alive reuses one)."""
        with self._lock:
            return {r.client for r in self.requests}

    def _take_request_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for spec in self._faults:
                if spec.coin is None and spec.path in (None, path) and spec.remaining != 0:
                    if spec.after:
                        spec.after -= 1
                        return None
                    spec.use()
                    return spec
        return None

    def _take_data_faults(self, coin_ids: set[str]) -> dict[str, list[_Fault]]:
        taken: dict[str, list[_Fault]] = {}
        with self._lock:
            for spec in self._faults:
                if spec.coin in coin_ids and spec.remaining != 0:
                    spec.use()
                    taken.setdefault(spec.coin, []).append(spec)
        return taken

    # --- the API -----------------------------------------------------------------

    def _record(self, method: str, path: str, query: dict[str, str], headers, client) -> None:
        entry = RecordedRequest(
            method, path, query, {k.lower(): v for k, v in headers.items()}, self.clock(), client
        )
        with self._lock:
            self.requests.append(entry)

    def _check_key(self, headers: dict[str, str]) -> None:
        if not self.api_key:
            return
        header = "x-cg-pro-api-key" if self.plan == "pro" else "x-cg-demo-api-key"
        if headers.get(header) != self.api_key:
            raise _HttpError(
                401, {"status": {"error_code": 10002, "error_message": "API Key Missing"}}
            )

    def _answer(self, path: str, query: dict[str, str]) -> Any:
        if path == "/ping":
            return {"gecko_says": "(V3) To the Moon!"}
        if path == "/simple/price":
            return self._simple_price(query)
        if path == "/coins/markets":
            return self._markets(query)
        if path == "/coins/list":
            return self._coins_list()
        if path == "/exchange_rates":
            return self._exchange_rates()
        match = re.fullmatch(r"/coins/([^/]+)/market_chart", path)
        if match:
            return self._market_chart(match.group(1), query)
        raise _HttpError(
            404, {"error": "Incorrect path. Please check https://www.coingecko.com/api/"}
        )

    def _coins_list(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = [{"id": c.id, "symbol": c.symbol, "name": c.name} for c in self.coins.values()]
            faults = self._take_data_faults({r["id"] for r in rows})
        _spoil_rows(rows, faults)
        return rows

    def _exchange_rates(self) -> dict[str, Any]:
        rates = {}
        for code, value in self.exchange_rates().items():
            name, unit, kind = EXCHANGE_RATE_NAMES.get(code, (code.upper(), code.upper(), "fiat"))
            rates[code] = {"name": name, "unit": unit, "value": value, "type": kind}
        return {"rates": rates}

    def _rate(self, vs_currency: str | None) -> Decimal:
        if not vs_currency:
            raise _HttpError(400, {"error": "Missing parameter vs_currency"})
        if vs_currency.lower() not in VS_RATES:
            raise _HttpError(400, {"error": "invalid vs_currency"})
        return VS_RATES[vs_currency.lower()]

    def _simple_price(self, query: dict[str, str]) -> dict[str, Any]:
        if not query.get("ids"):
            raise _HttpError(400, {"error": "Missing parameter ids"})
        currencies = [c for c in query.get("vs_currencies", "").lower().split(",") if c]
        if not currencies:
            raise _HttpError(400, {"error": "Missing parameter vs_currencies"})
        rates = {c: VS_RATES[c] for c in currencies if c in VS_RATES}
        flag = {k: query.get(k, "false").lower() == "true" for k in _SIMPLE_FLAGS}
        with self._lock:
            wanted = [self.coins[i] for i in _split_ids(query["ids"]) if i in self.coins]
            out = {}
            for coin in wanted:
                row: dict[str, Any] = {}
                for cur, rate in rates.items():
                    row[cur] = coin.price * rate
                    if flag["include_market_cap"]:
                        row[f"{cur}_market_cap"] = coin.market_cap * rate
                    if flag["include_24hr_vol"]:
                        row[f"{cur}_24h_vol"] = coin.total_volume * rate
                    if flag["include_24hr_change"]:
                        row[f"{cur}_24h_change"] = coin.price_change_percentage_24h
                if flag["include_last_updated_at"]:
                    row["last_updated_at"] = int(coin.last_updated.timestamp())
                out[coin.id] = row
            faults = self._take_data_faults(set(out))
        for coin_id, specs in faults.items():
            for spec in specs:
                # Map markets field names onto /simple/price keys for the first currency.
                key = {"current_price": currencies[0], "last_updated": "last_updated_at"}.get(
                    spec.field, spec.field
                )
                _apply_data_fault(out[coin_id], key, spec.kind)
        return out

    def _markets(self, query: dict[str, str]) -> list[dict[str, Any]]:
        rate = self._rate(query.get("vs_currency"))
        per_page = min(max(_int_param(query, "per_page", 100), 1), MAX_PER_PAGE)
        page = max(_int_param(query, "page", 1), 1)
        with self._lock:
            ranked = sorted(self.coins.values(), key=lambda c: (-c.market_cap, c.id))
            rank = {c.id: i + 1 for i, c in enumerate(ranked)}
            if query.get("ids"):
                wanted = set(_split_ids(query["ids"]))
                ranked = [c for c in ranked if c.id in wanted]
            ranked = _order(ranked, query.get("order", "market_cap_desc"))
            chosen = ranked[(page - 1) * per_page : page * per_page]
            rows = [_market_row(c, rate, rank[c.id]) for c in chosen]
            faults = self._take_data_faults({c.id for c in chosen})
        _spoil_rows(rows, faults)
        return rows

    def _market_chart(self, coin_id: str, query: dict[str, str]) -> dict[str, Any]:
        rate = self._rate(query.get("vs_currency"))
        days_param = query.get("days", "")
        if days_param == "max":
            days = 1200
        else:
            try:
                days = int(days_param)
            except ValueError:
                raise _HttpError(400, {"error": "invalid days"}) from None
            if days < 1:
                raise _HttpError(400, {"error": "invalid days"})
        with self._lock:
            coin = self.coins.get(coin_id)
            if coin is None:
                raise _HttpError(404, {"error": "coin not found"})
            points = chart_points(coin, days, self.clock(), daily=query.get("interval") == "daily")
            faults = self._take_data_faults({coin_id})
        chart = {"prices": [], "market_caps": [], "total_volumes": []}
        for at, price, cap, volume in points:
            ms = int(at.timestamp() * 1000)
            chart["prices"].append([ms, price * rate])
            chart["market_caps"].append([ms, cap * rate])
            chart["total_volumes"].append([ms, volume * rate])
        # A data fault on a chart spoils the middle price point.
        for spec in faults.get(coin_id, []):
            pair = chart["prices"][len(chart["prices"]) // 2]
            holder = {"v": pair[1]}
            _apply_data_fault(holder, "v", spec.kind)
            pair[1:] = [holder["v"]] if "v" in holder else []
        return chart


_SIMPLE_FLAGS = (
    "include_market_cap",
    "include_24hr_vol",
    "include_24hr_change",
    "include_last_updated_at",
)


def chart_points(
    coin: FakeCoin, days: int, now: datetime, *, daily: bool = False
) -> list[tuple[datetime, Decimal, Decimal, Decimal]]:
    """(time, price, market cap, volume) in CoinGecko's granularity, ending at now.

    days=1: every 5 minutes; 2..90: hourly; above 90 (or daily=True): daily at
    00:00 UTC plus a last point at now. Prices are a walk, seeded by the
    coin's id, that ends at the coin's current price.
    """
    start = now - timedelta(days=days)
    if daily or days > 90:
        first = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        times = _steps(first, now, timedelta(days=1)) + [now]
    elif days == 1:
        times = _steps(start, now, timedelta(minutes=5))
    else:
        first = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        times = _steps(first, now, timedelta(hours=1))
    rng = random.Random(zlib.crc32(coin.id.encode()) + days)
    step_sd = 0.002 if days == 1 else 0.01
    price = coin.price
    prices = []
    for _ in times:
        prices.append(price)
        price = (price * Decimal(f"{1 + rng.gauss(0, step_sd):.6f}")).quantize(coin.price)
        price = price if price > 0 else coin.price
    prices.reverse()
    return [
        (t, p, (p * coin.circulating_supply).quantize(Decimal("1")), coin.total_volume)
        for t, p in zip(times, prices, strict=True)
    ]


def _steps(first: datetime, last: datetime, step: timedelta) -> list[datetime]:
    times, t = [], first
    while t <= last:
        times.append(t)
        t += step
    return times


def _market_row(coin: FakeCoin, rate: Decimal, rank: int) -> dict[str, Any]:
    price = coin.price * rate
    change_pct = coin.price_change_percentage_24h
    return {
        "id": coin.id,
        "symbol": coin.symbol,
        "name": coin.name,
        "image": coin.image,
        "current_price": price,
        "market_cap": coin.market_cap * rate,
        "market_cap_rank": rank,
        "fully_diluted_valuation": None,
        "total_volume": coin.total_volume * rate,
        "high_24h": price * Decimal("1.02"),
        "low_24h": price * Decimal("0.97"),
        "price_change_24h": price * change_pct / 100,
        "price_change_percentage_24h": change_pct,
        "market_cap_change_24h": coin.market_cap * rate * change_pct / 100,
        "market_cap_change_percentage_24h": change_pct,
        "circulating_supply": coin.circulating_supply,
        "total_supply": None,
        "max_supply": None,
        "ath": price * 2,
        "ath_change_percentage": Decimal("-50.0"),
        "ath_date": "2021-11-10T14:24:11.849Z",
        "atl": price / 10,
        "atl_change_percentage": Decimal("900.0"),
        "atl_date": "2015-10-20T00:00:00.000Z",
        "roi": None,
        "last_updated": _iso_z(coin.last_updated),
    }


def _order(coins: list[FakeCoin], order: str) -> list[FakeCoin]:
    keys: dict[str, tuple[Callable[[FakeCoin], Any], bool]] = {
        "market_cap_desc": (lambda c: c.market_cap, True),
        "market_cap_asc": (lambda c: c.market_cap, False),
        "volume_desc": (lambda c: c.total_volume, True),
        "volume_asc": (lambda c: c.total_volume, False),
        "id_asc": (lambda c: c.id, False),
        "id_desc": (lambda c: c.id, True),
    }
    if order not in keys:
        raise _HttpError(400, {"error": "invalid order"})
    key, reverse = keys[order]
    return sorted(coins, key=key, reverse=reverse)


def _spoil_rows(rows: list[dict[str, Any]], faults: dict[str, list[_Fault]]) -> None:
    for row in rows:
        for spec in faults.get(row["id"], []):
            _apply_data_fault(row, spec.field, spec.kind)


def _apply_data_fault(row: dict[str, Any], key: str, kind: str) -> None:
    if kind == "missing":
        row.pop(key, None)
        return
    current = row.get(key)
    is_time = key in ("last_updated", "last_updated_at")
    if kind == "null":
        row[key] = None
    elif kind == "negative":
        is_number = isinstance(current, Decimal | int | float) and not is_time
        row[key] = (-abs(current) or Decimal(-1)) if is_number else f"-{current}"
    elif kind == "non_numeric":
        row[key] = "n/a"
    elif kind == "absurd":
        row[key] = "2099-01-01T00:00:00.000Z" if is_time else Decimal("1e20")
    elif kind == "nan":
        row[key] = float("nan")
    elif kind == "zero":
        row[key] = 0


def _data_fault_kind(fault: str) -> tuple[str, str]:
    """("null", "current_price") for "null_price"; other names map to themselves."""
    for kind in DATA_FAULTS:
        if fault == f"{kind}_price":
            return kind, "current_price"
    return fault, "current_price"


def png(width: int = 1, height: int = 1, padding: int = 0) -> bytes:
    """A valid PNG of one grey pixel per point, `padding` bytes larger in a tEXt chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    text = chunk(b"tEXt", b"pad\x00" + b"x" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + text
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def _split_ids(ids: str) -> list[str]:
    return [i.strip() for i in ids.split(",") if i.strip()]


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise _HttpError(400, {"error": f"invalid {name}"}) from None


def _iso_z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _to_json(data: Any) -> bytes:
    # Decimals go out as JSON floats, as CoinGecko's numbers are.
    return json.dumps(data, default=_json_number, separators=(",", ":")).encode()


def _json_number(value: Any) -> int | float:
    if isinstance(value, Decimal):
        # Whole amounts go out as JSON integers, as CoinGecko's market caps do.
        if value == value.to_integral_value() and abs(value) < 10**18:
            return int(value)
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeCoinGecko

    def handle_error(self, request, client_address) -> None:
        # Clients hang up on slow or broken answers on purpose: not an error here.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between header and body

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX) :]
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        fake._record("GET", path, query, self.headers, self.client_address[:2])
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path.startswith(IMAGE_PREFIX):
            try:
                body, content_type = fake._image(path)
                self._send(200, body, content_type=content_type, raw=True)
            except _HttpError as exc:
                self._send(exc.status, _to_json(exc.body))
            return
        fault = fake._take_request_fault(path)
        if fault is not None and self._misbehave(fault):
            return
        try:
            fake._check_key(headers)
            body = _to_json(fake._answer(path, query))
            status = 200
        except _HttpError as exc:
            status, body = exc.status, _to_json(exc.body)
        except Exception as exc:  # A bug in the fake: show it, don't just hang up.
            traceback.print_exc()
            status, body = 500, _to_json({"error": f"fake server bug: {exc!r}"})
        if fault is not None:
            body = self._spoil(fault, body)
        self._send(status, body)

    def _misbehave(self, fault: _Fault) -> bool:
        """Answer with the fault instead of data; False to go on with a normal answer."""
        retry_after = fault.options.get("retry_after")
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if fault.kind == "rate_limit":
            body = {
                "status": {
                    "error_code": 429,
                    "error_message": "You've exceeded the Rate Limit. Please visit "
                    "https://www.coingecko.com/en/api/pricing to subscribe to our API plans "
                    "for higher rate limits.",
                }
            }
            self._send(429, _to_json(body), extra)
        elif fault.kind in ("server_error", "unavailable"):
            status = 500 if fault.kind == "server_error" else 503
            html = f"<html><body><h1>{status} {self.responses[status][0]}</h1></body></html>"
            self._send(status, html.encode(), extra, "text/html")
        elif fault.kind == "slow":
            self.server.fake._stopping.wait(float(fault.options.get("delay", 2.0)))
            return False
        else:
            return False
        return True

    def _spoil(self, fault: _Fault, body: bytes) -> bytes:
        if fault.kind == "truncated":
            return body[: max(len(body) // 2, 1)]
        if fault.kind == "malformed":
            return b'{"id": "bitcoin", "current_price": , <html>'
        if fault.kind == "wrong_shape":
            return b"[]" if body.startswith(b"{") else b'{"error": "unexpected"}'
        if fault.kind == "disconnect":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return b""
        return body

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        *,
        raw: bool = False,
    ) -> None:
        if self.close_connection and not body:
            return  # "disconnect" has already sent its half body
        self.send_response(status)
        self.send_header("Content-Type", content_type if raw else f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
