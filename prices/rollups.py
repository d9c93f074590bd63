"""Minute and hour open/high/low/close rollups, maintained on every ingest.

The upsert is idempotent and order-independent: re-ingesting a tick, or
ingesting ticks out of order (a backfill after live polls), yields the same
rows. High and low take the extreme, open comes from the earliest tick and
close from the latest, so each bucket is a pure function of its ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from prices.bulk_sql import json_rows, sqlite_row
from prices.models import Resolution


@dataclass(frozen=True)
class TickPoint:
    """The part of a tick a rollup needs."""

    coin_id: int
    time: datetime
    price: Decimal
    simulated: bool = False


@dataclass
class Bucket:
    coin_id: int
    resolution: str
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    open_time: datetime
    close_time: datetime
    simulated: bool

    def add(self, tick: TickPoint) -> None:
        self.high = max(self.high, tick.price)
        self.low = min(self.low, tick.price)
        if tick.time < self.open_time:
            self.open, self.open_time = tick.price, tick.time
        if tick.time > self.close_time:
            self.close, self.close_time = tick.price, tick.time
        self.simulated = self.simulated or tick.simulated


def bucket_start(time: datetime, resolution: str) -> datetime:
    if resolution == Resolution.MINUTE:
        return time.replace(second=0, microsecond=0)
    return time.replace(minute=0, second=0, microsecond=0)


def aggregate(ticks: list[TickPoint]) -> list[Bucket]:
    """Fold a batch of ticks into one bucket per (coin, resolution, start)."""
    buckets: dict[tuple[int, str, datetime], Bucket] = {}
    for tick in ticks:
        for resolution in (Resolution.MINUTE, Resolution.HOUR):
            start = bucket_start(tick.time, resolution)
            key = (tick.coin_id, str(resolution), start)
            if key in buckets:
                buckets[key].add(tick)
            else:
                buckets[key] = Bucket(
                    tick.coin_id, str(resolution), start, tick.price, tick.price, tick.price,
                    tick.price, tick.time, tick.time, tick.simulated,
                )
    return list(buckets.values())


# One statement for the whole batch, the buckets passed as one JSON array.
_POSTGRES_UPSERT = """
INSERT INTO prices_pricerollup AS r
    (coin_id, resolution, bucket, open, high, low, close, open_time, close_time, simulated)
SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(
    coin_id bigint, resolution varchar, bucket timestamptz, open numeric, high numeric,
    low numeric, close numeric, open_time timestamptz, close_time timestamptz, simulated boolean)
ON CONFLICT (coin_id, resolution, bucket) DO UPDATE SET
    high = GREATEST(r.high, EXCLUDED.high),
    low = LEAST(r.low, EXCLUDED.low),
    open = CASE WHEN EXCLUDED.open_time < r.open_time THEN EXCLUDED.open ELSE r.open END,
    open_time = LEAST(r.open_time, EXCLUDED.open_time),
    close = CASE WHEN EXCLUDED.close_time > r.close_time THEN EXCLUDED.close ELSE r.close END,
    close_time = GREATEST(r.close_time, EXCLUDED.close_time),
    simulated = r.simulated OR EXCLUDED.simulated
"""

# SQLite (`make run` without DATABASE_URL): the same rule, with max()/min().
# Datetimes are stored as sortable ISO text, so text comparison orders them.
_SQLITE_UPSERT = """
INSERT INTO prices_pricerollup
    (coin_id, resolution, bucket, open, high, low, close, open_time, close_time, simulated)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (coin_id, resolution, bucket) DO UPDATE SET
    high = max(high, excluded.high),
    low = min(low, excluded.low),
    open = CASE WHEN excluded.open_time < open_time THEN excluded.open ELSE open END,
    open_time = min(open_time, excluded.open_time),
    close = CASE WHEN excluded.close_time > close_time THEN excluded.close ELSE close END,
    close_time = max(close_time, excluded.close_time),
    simulated = simulated OR excluded.simulated
"""


_COLUMNS = ("coin_id", "resolution", "bucket", "open", "high", "low", "close", "open_time",
            "close_time", "simulated")


def upsert_rollups(ticks: list[TickPoint]) -> int:
    """Fold ticks into their minute and hour rollups; returns the buckets touched."""
    buckets = aggregate(ticks)
    if not buckets:
        return 0
    rows = [
        (b.coin_id, b.resolution, b.start, b.open, b.high, b.low, b.close, b.open_time,
         b.close_time, b.simulated)
        for b in buckets
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRES_UPSERT, [json_rows(_COLUMNS, rows)])
        else:
            cursor.executemany(_SQLITE_UPSERT, [sqlite_row(row) for row in rows])
    return len(buckets)

