"""Store a batch of quotes, then tell the live pages and the alert evaluator.

One transaction per batch: create unknown coins, write every new tick
(re-ingesting a (coin, time) is a no-op), move the snapshots of coins whose
quote is newer than what they show, and fold the ticks into rollups, all in
one statement.
Only after the commit do we broadcast (docs/websocket.md, with the feed's state as
committed) and send prices.hooks.live_batch_committed (alerts evaluates on it), so nobody
hears about rows that were rolled back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from prices import metrics
from prices.bulk_sql import json_rows
from prices.hooks import live_batch_committed
from prices.live import PRICES_GROUP, feed_status
from prices.models import Coin, PriceSource, PriceTick, decimal_text
from prices.quotes import MarketQuote
from prices.rollups import postgres_rollups_sql

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    stored: int = 0  # new ticks written
    created_coins: list[str] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)  # Coin.snapshot() of moved coins
    batch: list[dict] = field(default_factory=list)  # live_batch_committed's items
    polled_at: datetime = field(default_factory=timezone.now)


@dataclass
class _KnownCoin:
    pk: int
    price: Decimal | None
    updated_at: datetime | None
    setting_marked: bool  # is_tracked and tracked_by_setting
    # The snapshot's market figures before this batch (the alert batch's
    # previous values).
    market_cap: Decimal | None = None
    volume_24h: Decimal | None = None
    change_24h_pct: Decimal | None = None


def store_quotes(quotes: list[MarketQuote], source: PriceSource) -> IngestResult:
    """Store quotes atomically; announce the changed coins once committed.

    A batch may hold several quotes per coin (a backfill): all become ticks,
    the latest one moves the snapshot if it is newer. Backfilled history is
    not live, so it never triggers alert evaluation.
    """
    result = IngestResult()
    # One quote per (coin, time): a tick is written once per statement.
    quotes = list({(q.coingecko_id, q.last_updated): q for q in quotes}.values())
    if not quotes:
        return result
    with transaction.atomic():
        known = _lock_coins(quotes, source, result)
        moved = [
            q
            for q in _latest_quote_per_coin(quotes).values()
            if known[q.coingecko_id].updated_at is None
            or q.last_updated > known[q.coingecko_id].updated_at
        ]
        tick_ids, coins = _write(quotes, moved, known, source)
        result.stored = len(tick_ids)
        _describe_changes(moved, known, coins, tick_ids, result)
        if result.changed:
            announce_alerts = source != PriceSource.BACKFILL
            transaction.on_commit(lambda: _announce(result, announce_alerts))
    return result


def _lock_coins(
    quotes: list[MarketQuote], source: PriceSource, result: IngestResult
) -> dict[str, _KnownCoin]:
    """Create unknown coins, then lock every coin of the batch for this transaction.

    The row locks make two overlapping ingests take turns, so each reads the
    snapshot the other wrote and `previous_price` is never skipped. They are
    FOR NO KEY UPDATE: rows inserted elsewhere that reference a coin (alert
    events, ticks) check it with FOR KEY SHARE and must not wait for a poll. Coins a
    live source reports are polled from then on; backfilled ones are not.
    A live coin TRACKED_COINS names is marked tracked and the setting's, as
    `sync_coins` marks it, whether the poll creates it (a poll before any
    sync) or it exists untracked (loaded from the catalogue, or backfilled):
    it is polled, so alerts may use it, and a sync stops tracking it once the
    setting drops it.
    """
    ids = sorted({q.coingecko_id for q in quotes})
    live = source != PriceSource.BACKFILL
    named = set(settings.TRACKED_COINS)
    known = _select_for_update(ids)
    missing = [q for q in _latest_quote_per_coin(quotes).values() if q.coingecko_id not in known]
    if missing:
        Coin.objects.bulk_create(
            [
                Coin(
                    coingecko_id=q.coingecko_id,
                    symbol=q.symbol,
                    name=q.name or q.coingecko_id,
                    image_url=q.image_url,
                    market_cap_rank=q.market_cap_rank,
                    is_tracked=live,
                    tracked_by_setting=live and q.coingecko_id in named,
                )
                for q in missing
            ],
            ignore_conflicts=True,
        )
        result.created_coins = [q.coingecko_id for q in missing]
        known = _select_for_update(ids)
    if live:
        # Usually none: a statement only on the poll after the setting names a coin.
        unmarked = [c.pk for i, c in known.items() if i in named and not c.setting_marked]
        if unmarked:
            Coin.objects.filter(pk__in=unmarked).update(is_tracked=True, tracked_by_setting=True)
    return known


def _select_for_update(ids: list[str]) -> dict[str, _KnownCoin]:
    rows = (
        Coin.objects.select_for_update(no_key=True)
        .filter(coingecko_id__in=ids)
        .order_by("pk")  # a fixed lock order: no deadlock between two ingests
        .values_list(
            "coingecko_id",
            "pk",
            "price",
            "price_updated_at",
            "is_tracked",
            "tracked_by_setting",
            *_MARKET_FIGURES,
        )
    )
    return {
        cg_id: _KnownCoin(pk, price, updated, tracked and by_setting, *figures)
        for cg_id, pk, price, updated, tracked, by_setting, *figures in rows
    }


# The market figures an alert batch item carries beside the price, each
# with its previous value (alerts: market cap, volume and 24 h change alerts).
_MARKET_FIGURES = ("market_cap", "volume_24h", "change_24h_pct")


def _latest_quote_per_coin(quotes: list[MarketQuote]) -> dict[str, MarketQuote]:
    latest: dict[str, MarketQuote] = {}
    for quote in quotes:
        current = latest.get(quote.coingecko_id)
        if current is None or quote.last_updated > current.last_updated:
            latest[quote.coingecko_id] = quote
    return latest


# Snapshot fields Coin.snapshot() reads, as the UPDATE returns them.
_SNAPSHOT_FIELDS = (
    "id",
    "coingecko_id",
    "symbol",
    "name",
    "price",
    "market_cap",
    "volume_24h",
    "change_24h_pct",
    "price_updated_at",
    "price_source",
)

# The whole batch in one statement, one JSON parameter. All CTEs
# run to completion; the final SELECT returns the new ticks and the moved
# snapshots as rows of one shape, told apart by `kind`.
_WRITE = """
WITH v AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS v(
        coin_id bigint, time timestamptz, price numeric, market_cap numeric,
        volume_24h numeric, change_24h_pct numeric, moves boolean, symbol varchar,
        name varchar, image_url varchar, market_cap_rank integer)
),
ticks AS (
    INSERT INTO prices_pricetick
        (coin_id, time, price, market_cap, volume_24h, change_24h_pct, source)
    SELECT coin_id, time, price, market_cap, volume_24h, change_24h_pct, %(source)s FROM v
    ON CONFLICT (coin_id, time) DO NOTHING
    RETURNING id, coin_id, time
),
snapshots AS (
    UPDATE prices_coin AS c SET
        price = v.price, market_cap = v.market_cap, volume_24h = v.volume_24h,
        change_24h_pct = v.change_24h_pct, price_updated_at = v.time,
        price_source = %(source)s,
        symbol = COALESCE(NULLIF(v.symbol, ''), c.symbol),
        name = COALESCE(NULLIF(v.name, ''), c.name),
        image_url = COALESCE(NULLIF(v.image_url, ''), c.image_url),
        market_cap_rank = COALESCE(v.market_cap_rank, c.market_cap_rank)
    FROM v
    WHERE v.moves AND c.id = v.coin_id
        AND (c.price_updated_at IS NULL OR c.price_updated_at < v.time)
    RETURNING c.id, c.coingecko_id, c.symbol, c.name, c.price, c.market_cap, c.volume_24h,
              c.change_24h_pct, c.price_updated_at, c.price_source
),
rollups AS ({rollups})
SELECT 'snapshot' AS kind, snapshots.*, NULL::bigint AS coin_id FROM snapshots
UNION ALL
SELECT 'tick', id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, time, NULL, coin_id FROM ticks
"""
_WRITE_COLUMNS = (
    "coin_id",
    "time",
    "price",
    "market_cap",
    "volume_24h",
    "change_24h_pct",
    "moves",
    "symbol",
    "name",
    "image_url",
    "market_cap_rank",
)

TickIds = dict[tuple[int, datetime], int]


def _write(
    quotes: list[MarketQuote],
    moved: list[MarketQuote],
    known: dict[str, _KnownCoin],
    source: PriceSource,
) -> tuple[TickIds, dict[int, Coin]]:
    """Ticks, snapshots and rollups in one round trip; returns new tick ids and moved coins."""
    moving = {id(q) for q in moved}
    rows = [
        (
            known[q.coingecko_id].pk,
            q.last_updated,
            q.price,
            q.market_cap,
            q.volume_24h,
            q.change_24h_pct,
            id(q) in moving,
        )
        + (
            (q.symbol, q.name, q.image_url, q.market_cap_rank)
            if id(q) in moving
            else (None, None, None, None)
        )
        for q in quotes
    ]
    sql = _WRITE.replace("{rollups}", postgres_rollups_sql("v", source == PriceSource.SIMULATED))
    tick_ids: TickIds = {}
    coins: dict[int, Coin] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, {"rows": json_rows(_WRITE_COLUMNS, rows), "source": str(source)})
        for kind, *values, coin_id in cursor.fetchall():
            if kind == "tick":
                tick_ids[(coin_id, values[8])] = values[0]
            else:
                coin = Coin(**dict(zip(_SNAPSHOT_FIELDS, values, strict=True)))
                coins[coin.pk] = coin
    return tick_ids, coins


def _describe_changes(
    moved: list[MarketQuote],
    known: dict[str, _KnownCoin],
    coins: dict[int, Coin],
    tick_ids: TickIds,
    result: IngestResult,
) -> None:
    """Fill the broadcast snapshots and the alert batch for the coins that moved."""
    for q in moved:
        before = known[q.coingecko_id]
        now = coins.get(before.pk)
        if now is None:  # not moved after all (the UPDATE re-checked the time)
            continue
        key = (before.pk, q.last_updated)
        if key not in tick_ids:
            # The tick existed already (the snapshot was behind its ticks).
            tick_ids[key] = PriceTick.objects.get(coin_id=before.pk, time=q.last_updated).pk
        result.changed.append(now.snapshot())
        item = {
            "coin_id": before.pk,
            "tick_id": tick_ids[key],
            "price": decimal_text(now.price),
            "previous_price": _text_or_none(before.price),
            "time": q.last_updated.isoformat(),
        }
        for name in _MARKET_FIGURES:
            item[name] = _text_or_none(getattr(now, name))
            item[f"previous_{name}"] = _text_or_none(getattr(before, name))
        result.batch.append(item)


def _text_or_none(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _announce(result: IngestResult, evaluate: bool) -> None:
    """Broadcast the changed coins and enqueue alert evaluation; never raise.

    The rows are committed whatever happens here: a Redis hiccup must not turn
    a good poll into a failed one.
    """
    committed = time.perf_counter()  # on_commit callbacks run right after COMMIT
    event = {
        "type": "prices.update",
        "coins": result.changed,
        "polled_at": result.polled_at.isoformat(),
    }
    try:
        # Read once per batch here, not per process or socket: the state the
        # poll committed with these rows (a partial poll is not a good one).
        event["feed"] = feed_status()
    except Exception:
        logger.exception("Could not read the feed's state for the price broadcast")
    try:
        async_to_sync(get_channel_layer().group_send)(PRICES_GROUP, event)
        metrics.BROADCAST_LATENCY.observe(time.perf_counter() - committed)
    except Exception:
        logger.exception("Could not broadcast %d price updates", len(result.changed))
    if not evaluate:
        return
    # alerts listens (alerts.receivers): it builds on prices, so prices names it nowhere.
    for receiver, error in live_batch_committed.send_robust(_announce, batch=result.batch):
        if error is not None:
            logger.error(
                "%r failed on a batch of %d coins", receiver, len(result.batch), exc_info=error
            )
