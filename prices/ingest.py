"""Store a batch of quotes, then tell the live pages and the alert evaluator.

One transaction per batch: create unknown coins, write every new tick in one
INSERT (re-ingesting a (coin, time) is a no-op), move the snapshots of coins
whose quote is newer than what they show, and fold the ticks into rollups.
Only after the commit do we broadcast (contract 1) and enqueue alert
evaluation (contract 2), so nobody hears about rows that were rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from prices.bulk_sql import json_rows, sqlite_row
from prices.models import Coin, PriceSource, PriceTick
from prices.quotes import MarketQuote
from prices.rollups import TickPoint, upsert_rollups

logger = logging.getLogger(__name__)

PRICES_GROUP = "prices"


@dataclass
class IngestResult:
    stored: int = 0  # new ticks written
    created_coins: list[str] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)  # Coin.snapshot() of moved coins
    batch: list[dict] = field(default_factory=list)  # alert evaluation items (contract 2)
    polled_at: datetime = field(default_factory=timezone.now)


@dataclass
class _KnownCoin:
    pk: int
    price: Decimal | None
    updated_at: datetime | None


def store_quotes(quotes: list[MarketQuote], source: PriceSource) -> IngestResult:
    """Store quotes atomically; announce the changed coins once committed.

    A batch may hold several quotes per coin (a backfill): all become ticks,
    the latest one moves the snapshot if it is newer. Backfilled history is
    not live, so it never triggers alert evaluation.
    """
    result = IngestResult()
    if not quotes:
        return result
    with transaction.atomic():
        known = _lock_coins(quotes, source, result)
        tick_ids = _insert_ticks(quotes, known, source, result)
        latest = _latest_quote_per_coin(quotes)
        moved = [
            q for q in latest.values()
            if known[q.coingecko_id].updated_at is None
            or q.last_updated > known[q.coingecko_id].updated_at
        ]
        coins = _update_snapshots(moved, known, source)
        upsert_rollups([
            TickPoint(known[q.coingecko_id].pk, q.last_updated, q.price,
                      source == PriceSource.SIMULATED)
            for q in quotes
        ])
        if moved:
            _describe_changes(moved, known, coins, tick_ids, result)
            announce_alerts = source != PriceSource.BACKFILL
            transaction.on_commit(lambda: _announce(result, announce_alerts))
    return result


def _lock_coins(
    quotes: list[MarketQuote], source: PriceSource, result: IngestResult
) -> dict[str, _KnownCoin]:
    """Create unknown coins, then lock every coin of the batch for this transaction.

    The row locks make two overlapping ingests take turns, so each reads the
    snapshot the other wrote and `previous_price` is never skipped. Coins a
    live source reports are polled from then on; backfilled ones are not.
    """
    ids = sorted({q.coingecko_id for q in quotes})
    known = _select_for_update(ids)
    missing = [q for q in _latest_quote_per_coin(quotes).values() if q.coingecko_id not in known]
    if missing:
        Coin.objects.bulk_create(
            [
                Coin(coingecko_id=q.coingecko_id, symbol=q.symbol, name=q.name or q.coingecko_id,
                     image_url=q.image_url, market_cap_rank=q.market_cap_rank,
                     is_tracked=source != PriceSource.BACKFILL)
                for q in missing
            ],
            ignore_conflicts=True,
        )
        result.created_coins = [q.coingecko_id for q in missing]
        known = _select_for_update(ids)
    return known


def _select_for_update(ids: list[str]) -> dict[str, _KnownCoin]:
    rows = (
        Coin.objects.select_for_update()
        .filter(coingecko_id__in=ids)
        .order_by("pk")  # a fixed lock order: no deadlock between two ingests
        .values_list("coingecko_id", "pk", "price", "price_updated_at")
    )
    return {cg_id: _KnownCoin(pk, price, updated) for cg_id, pk, price, updated in rows}


def _latest_quote_per_coin(quotes: list[MarketQuote]) -> dict[str, MarketQuote]:
    latest: dict[str, MarketQuote] = {}
    for quote in quotes:
        current = latest.get(quote.coingecko_id)
        if current is None or quote.last_updated > current.last_updated:
            latest[quote.coingecko_id] = quote
    return latest


_POSTGRES_INSERT_TICKS = """
INSERT INTO prices_pricetick
    (coin_id, time, price, market_cap, volume_24h, change_24h_pct, source)
SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(
    coin_id bigint, time timestamptz, price numeric, market_cap numeric, volume_24h numeric,
    change_24h_pct numeric, source varchar)
ON CONFLICT (coin_id, time) DO NOTHING
RETURNING id, coin_id, time
"""

_SQLITE_INSERT_TICK = """
INSERT INTO prices_pricetick
    (coin_id, time, price, market_cap, volume_24h, change_24h_pct, source)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (coin_id, time) DO NOTHING
RETURNING id
"""


_TICK_COLUMNS = ("coin_id", "time", "price", "market_cap", "volume_24h", "change_24h_pct",
                 "source")


def _insert_ticks(
    quotes: list[MarketQuote], known: dict[str, _KnownCoin], source: PriceSource,
    result: IngestResult,
) -> dict[tuple[int, datetime], int]:
    """Write every quote as a tick; returns the new ticks' ids by (coin pk, time)."""
    rows = [
        (known[q.coingecko_id].pk, q.last_updated, q.price, q.market_cap, q.volume_24h,
         q.change_24h_pct, str(source))
        for q in quotes
    ]
    tick_ids: dict[tuple[int, datetime], int] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRES_INSERT_TICKS, [json_rows(_TICK_COLUMNS, rows)])
            for tick_id, coin_pk, time in cursor.fetchall():
                tick_ids[(coin_pk, time)] = tick_id
        else:
            # SQLite is the single-user development database: row by row is fine.
            for row in rows:
                cursor.execute(_SQLITE_INSERT_TICK, sqlite_row(row))
                inserted = cursor.fetchone()
                if inserted:
                    tick_ids[(row[0], row[1])] = inserted[0]
    result.stored = len(tick_ids)
    return tick_ids


_POSTGRES_UPDATE_SNAPSHOTS = """
UPDATE prices_coin AS c SET
    price = v.price, market_cap = v.market_cap, volume_24h = v.volume_24h,
    change_24h_pct = v.change_24h_pct, price_updated_at = v.time, price_source = v.source,
    symbol = COALESCE(NULLIF(v.symbol, ''), c.symbol),
    name = COALESCE(NULLIF(v.name, ''), c.name),
    image_url = COALESCE(NULLIF(v.image_url, ''), c.image_url),
    market_cap_rank = COALESCE(v.market_cap_rank, c.market_cap_rank)
FROM jsonb_to_recordset(%s::jsonb) AS v(
    id bigint, price numeric, market_cap numeric, volume_24h numeric, change_24h_pct numeric,
    time timestamptz, source varchar, symbol varchar, name varchar, image_url varchar,
    market_cap_rank integer)
WHERE c.id = v.id AND (c.price_updated_at IS NULL OR c.price_updated_at < v.time)
RETURNING {returning}
"""
_SNAPSHOT_COLUMNS = ("id", "price", "market_cap", "volume_24h", "change_24h_pct", "time",
                     "source", "symbol", "name", "image_url", "market_cap_rank")
# What Coin.snapshot() reads, returned by the UPDATE itself: no second query.
_SNAPSHOT_FIELDS = ("id", "coingecko_id", "symbol", "name", "price", "market_cap",
                    "volume_24h", "change_24h_pct", "price_updated_at", "price_source")


def _update_snapshots(
    moved: list[MarketQuote], known: dict[str, _KnownCoin], source: PriceSource
) -> dict[int, Coin]:
    """Move the snapshots; returns the moved coins as they now are, by pk."""
    if not moved:
        return {}
    if connection.vendor != "postgresql":
        for q in moved:
            Coin.objects.filter(pk=known[q.coingecko_id].pk).update(**_snapshot_fields(q, source))
        return Coin.objects.in_bulk([known[q.coingecko_id].pk for q in moved])
    rows = [
        (known[q.coingecko_id].pk, q.price, q.market_cap, q.volume_24h, q.change_24h_pct,
         q.last_updated, str(source), q.symbol, q.name, q.image_url, q.market_cap_rank)
        for q in moved
    ]
    sql = _POSTGRES_UPDATE_SNAPSHOTS.format(returning=", ".join(f"c.{f}" for f in _SNAPSHOT_FIELDS))
    with connection.cursor() as cursor:
        cursor.execute(sql, [json_rows(_SNAPSHOT_COLUMNS, rows)])
        coins = [Coin(**dict(zip(_SNAPSHOT_FIELDS, row, strict=True))) for row in cursor]
    return {coin.pk: coin for coin in coins}


def _snapshot_fields(q: MarketQuote, source: PriceSource) -> dict:
    fields = {
        "price": q.price, "market_cap": q.market_cap, "volume_24h": q.volume_24h,
        "change_24h_pct": q.change_24h_pct, "price_updated_at": q.last_updated,
        "price_source": str(source),
    }
    optional = {"symbol": q.symbol, "name": q.name, "image_url": q.image_url,
                "market_cap_rank": q.market_cap_rank}
    fields.update({k: v for k, v in optional.items() if v not in ("", None)})
    return fields


def _describe_changes(
    moved: list[MarketQuote], known: dict[str, _KnownCoin], coins: dict[int, Coin],
    tick_ids: dict[tuple[int, datetime], int], result: IngestResult,
) -> None:
    missing = [(known[q.coingecko_id].pk, q.last_updated) for q in moved
               if (known[q.coingecko_id].pk, q.last_updated) not in tick_ids]
    if missing:
        # The tick existed already (snapshot was behind its ticks): look its id up.
        for pk, time in missing:
            tick_ids[(pk, time)] = PriceTick.objects.get(coin_id=pk, time=time).pk
    for q in moved:
        coin = known[q.coingecko_id]
        result.changed.append(coins[coin.pk].snapshot())
        result.batch.append({
            "coin_id": coin.pk,
            "tick_id": tick_ids[(coin.pk, q.last_updated)],
            "price": format(coins[coin.pk].price.normalize(), "f"),
            "previous_price": None if coin.price is None else format(coin.price.normalize(), "f"),
            "time": q.last_updated.isoformat(),
        })


def _announce(result: IngestResult, evaluate: bool) -> None:
    """Broadcast the changed coins and enqueue alert evaluation; never raise.

    The rows are committed whatever happens here: a Redis hiccup must not turn
    a good poll into a failed one.
    """
    try:
        async_to_sync(get_channel_layer().group_send)(
            PRICES_GROUP,
            {"type": "prices.update", "coins": result.changed,
             "polled_at": result.polled_at.isoformat()},
        )
    except Exception:
        logger.exception("Could not broadcast %d price updates", len(result.changed))
    if not evaluate:
        return
    from alerts.tasks import evaluate_alerts  # the alerts app depends on us, not the reverse

    try:
        evaluate_alerts.delay(result.batch)
    except Exception:
        logger.exception("Could not enqueue alert evaluation for %d coins", len(result.batch))
