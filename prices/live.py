"""What the live price WebSocket says: snapshots, subscriptions and batch texts.

The consumer (prices.consumers) only moves messages; the rules live here so
they can be tested and reused without a socket.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max

from prices.models import Coin, FeedState, PriceSource
from prices.websocket_frames import send_message

PRICES_GROUP = "prices"
# The largest frame a browser may send us; every valid message is far smaller.
MAX_CLIENT_FRAME_BYTES = 4096
MAX_SUBSCRIBED_COINS = 500
# CoinGecko ids: lower-case words joined by hyphens, sometimes dots or underscores.
COIN_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
# A `prices` batch is a table: one row per coin, these columns in this order
# (docs/websocket.md). Only what changes with a price; the snapshot has the rest.
BATCH_VERSION = 2
BATCH_FIELDS = ("id", "price", "change_24h_pct", "market_cap", "volume_24h", "updated_at")
# What pages call each PRICE_SOURCE.
SOURCE_NAMES = {PriceSource.COINGECKO: "CoinGecko", PriceSource.SIMULATED: "The simulated feed"}
# FeedState.last_error's texts (prices.coingecko, prices.polling), first match wins.
FEED_PROBLEMS = (
    ("pages failed", "answered in part"),
    ("rate limited", "rate limited (HTTP 429)"),
    ("asked to wait", "asked us to wait"),
    ("timed out", "timed out"),
    ("connection failed", "connection failed"),
    ("JSON", "sent an answer we could not read"),
)
HTTP_STATUS = re.compile(r"HTTP (\d{3})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class BadMessage(ValueError):
    """A client message we cannot act on; its text is sent back to the client."""


def parse_subscription(coins: Any) -> list[str]:
    """Validate the `coins` of a subscribe message; return the ids, deduplicated, in order."""
    if not isinstance(coins, list):
        raise BadMessage("subscribe needs 'coins': a list of CoinGecko ids")
    if not coins:
        raise BadMessage("subscribe needs at least one coin id")
    if len(coins) > MAX_SUBSCRIBED_COINS:
        raise BadMessage(f"subscribe accepts at most {MAX_SUBSCRIBED_COINS} coin ids")
    for coin_id in coins:
        if not isinstance(coin_id, str) or not COIN_ID_PATTERN.fullmatch(coin_id):
            raise BadMessage(f"not a CoinGecko id: {str(coin_id)[:100]!r}")
    return list(dict.fromkeys(coins))


def feed_status() -> dict[str, Any]:
    """Whether the feed is stale and whether the prices shown are simulated.

    A stale feed says why too (docs/websocket.md): its source, the failed
    polls in a row and the last error, when the last good poll was and how
    old the newest price is, so a page can say what is true in an outage.
    """
    simulated = settings.PRICE_SOURCE == PriceSource.SIMULATED or (
        Coin.objects.filter(is_tracked=True, price_source=PriceSource.SIMULATED).exists()
    )
    state = FeedState.observed()
    status: dict[str, Any] = {"stale": state.is_stale(), "simulated": simulated}
    if status["stale"]:
        status.update(stale_details(state))
    return status


def stale_details(state: FeedState) -> dict[str, Any]:
    """What a page says of a stale feed: who, since when, why, how old the prices are."""
    newest = Coin.objects.filter(is_tracked=True).aggregate(newest=Max("price_updated_at"))
    return {
        "source": SOURCE_NAMES.get(state.name, state.name),
        "failures": state.consecutive_failures,
        "problem": feed_problem(state.last_error),
        "last_success_at": _iso(state.last_success_at),
        "last_attempt_at": _iso(state.last_attempt_at),
        "prices_from": _iso(newest["newest"]),
    }


def feed_problem(error: str) -> str:
    """The kind of a feed error, fit for anyone to read (empty: none).

    Pages and sockets are open to visitors, who get states, never error texts
    (docs/security.md): an error may quote an answer's body or a resolver's
    message. Staff see the text itself (the banner, the admin, /healthz).
    """
    if not error:
        return ""
    for marker, problem in FEED_PROBLEMS:
        if marker in error:
            return problem
    status = HTTP_STATUS.search(error)
    return f"HTTP {status.group(1)}" if status else "failed"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def snapshot_message(coins: list[dict[str, Any]] | None = None, feed: dict | None = None) -> dict:
    """The `snapshot` message: every tracked coin, or the coin snapshots given."""
    if coins is None:
        coins = [coin.snapshot() for coin in Coin.objects.filter(is_tracked=True)]
    return {
        "type": "snapshot",
        "coins": coins,
        "feed": feed_status() if feed is None else feed,
        "currency": settings.VS_CURRENCY,
    }


def epoch_ms(iso: str | None) -> int | None:
    """An ISO 8601 time as exact milliseconds since 1970 (None stays None)."""
    if not iso:
        return None
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:  # none with USE_TZ; read as UTC, never local time
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MILLISECOND


def batch_row(coin: dict[str, Any]) -> list[Any]:
    """One coin of a `prices` batch: its BATCH_FIELDS values, the time in ms."""
    return [
        coin.get("id"),
        coin.get("price"),
        coin.get("change_24h_pct"),
        coin.get("market_cap"),
        coin.get("volume_24h"),
        epoch_ms(coin.get("updated_at")),
    ]


def batch_rows(event: dict[str, Any]) -> list[list[Any]]:
    return [batch_row(coin) for coin in event["coins"]]


def prices_message(
    event: dict[str, Any], coin_ids: Collection[str] | None, rows: list[list[Any]] | None = None
) -> dict | None:
    """The `prices` message for one client, or None when none of its coins changed.

    `rows` are the event's batch_rows() when the caller has them already.
    """
    if rows is None:
        rows = batch_rows(event)
    if coin_ids is not None:
        rows = [row for row in rows if row[0] in coin_ids]
        if not rows:
            return None
    # polled_at first: a client can read the stamp before the table.
    message = {"type": "prices", "polled_at": event.get("polled_at"), "v": BATCH_VERSION}
    if "feed" in event:  # the producer's feed_status(), read once for the batch
        message["feed"] = event["feed"]
    message["fields"] = BATCH_FIELDS
    message["coins"] = rows
    return message


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class ProcessTexts:
    """JSON texts every client of a daphne process shares, each made once.

    Every socket of the process is sent the same batch (prices.fanout hands
    it to each); encoding it once per process instead of once per client is
    what keeps thousands of sockets cheap. Likewise the full snapshot sent on
    connect is built once per batch (a reconnect storm would otherwise run the
    same query thousands of times), and at most SNAPSHOT_TTL_SECONDS old so the
    feed's stale flag stays true.
    A batch is identified by its `polled_at` and size.

    A `subscribe` is answered from memory too (`subscription`): a socket may
    send five a second, and each ran three queries.
    """

    SNAPSHOT_TTL_SECONDS = 2.0
    # The catalogue's ids change with sync_coins (daily) and the coins no poll
    # updates (untracked) hardly ever: each is read at most once this often.
    CATALOGUE_TTL_SECONDS = 30.0

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._batch_key: tuple[Any, int] | None = None
        self._batch_rows: list[list[Any]] = []
        self._batch_text = ""
        self._batch_send: dict[str, Any] | None = None
        self._snapshot: tuple[dict[str, dict], dict, str] | None = None
        self._snapshot_made_at = 0.0
        self._generation = 0
        self._catalogue_ids: frozenset[str] = frozenset()
        self._untracked: dict[str, dict | None] = {}
        self._catalogue_read_at = -self.CATALOGUE_TTL_SECONDS

    def batch_seen(self, event: dict[str, Any]) -> bool:
        """Note a batch; True when it is new to this process (old snapshot dropped)."""
        key = (event.get("polled_at"), len(event["coins"]))
        if key == self._batch_key and key[0] is not None:
            return False
        self._batch_key = key
        self._batch_rows = batch_rows(event)
        self._batch_text = ""
        self._batch_send = None
        self._snapshot = None
        self._generation += 1
        return True

    def batch_text(self, event: dict[str, Any]) -> str:
        """The `prices` text every client with the full subscription gets."""
        if self.batch_seen(event) or not self._batch_text:
            self._batch_text = encode(prices_message(event, None, self._batch_rows))
        return self._batch_text

    def batch_send(self, event: dict[str, Any]) -> dict[str, Any]:
        """The ASGI `websocket.send` of batch_text(), framed once for every socket.

        Every full subscriber is sent this same dict (prices.websocket_frames):
        nothing may change it.
        """
        text = self.batch_text(event)
        if self._batch_send is None or self._batch_send["text"] is not text:
            self._batch_send = send_message(text)
        return self._batch_send

    def narrowed_message(self, event: dict[str, Any], coin_ids: Collection[str]) -> dict | None:
        """The `prices` message for a narrowed subscription (None: none of its coins)."""
        self.batch_seen(event)
        return prices_message(event, coin_ids, self._batch_rows)

    def _full_snapshot(self) -> tuple[dict[str, dict], dict, str]:
        """Tracked coins by id, the feed and the full snapshot's text (may query)."""
        snapshot = self._snapshot
        if (
            snapshot is None
            or time.monotonic() - self._snapshot_made_at > self.SNAPSHOT_TTL_SECONDS
        ):
            generation = self._generation
            message = snapshot_message()
            coins = {coin["id"]: coin for coin in message["coins"]}
            snapshot = (coins, message["feed"], encode(message))
            # A batch that arrived meanwhile may have outdated what we read.
            if generation == self._generation:
                self._snapshot, self._snapshot_made_at = snapshot, time.monotonic()
        return snapshot

    def snapshot_text(self) -> str:
        """The full snapshot (runs in the sync thread: it may query the database)."""
        return self._full_snapshot()[2]

    def subscription(self, coin_ids: list[str]) -> tuple[list[str], str]:
        """The ids of `coin_ids` in the catalogue, and their `snapshot` text.

        Runs in the sync thread. Tracked coins and the feed come from the full
        snapshot; the catalogue's ids, and untracked coins one by one, are read
        at most once per CATALOGUE_TTL_SECONDS, so however many subscribes come,
        the database sees at most one read of each coin per interval.
        """
        tracked, feed, _ = self._full_snapshot()
        if time.monotonic() - self._catalogue_read_at > self.CATALOGUE_TTL_SECONDS:
            self._catalogue_ids = frozenset(Coin.objects.values_list("coingecko_id", flat=True))
            self._untracked = {}
            self._catalogue_read_at = time.monotonic()
        known = [c for c in coin_ids if c in tracked or c in self._catalogue_ids]
        unread = [c for c in known if c not in tracked and c not in self._untracked]
        if unread:
            self._untracked.update(dict.fromkeys(unread))
            for coin in Coin.objects.filter(coingecko_id__in=unread):
                self._untracked[coin.coingecko_id] = coin.snapshot()
        coins = [tracked.get(c) or self._untracked.get(c) for c in known]
        return known, encode(snapshot_message([coin for coin in coins if coin], feed))


process_texts = ProcessTexts()
