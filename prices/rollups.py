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
                    tick.coin_id,
                    str(resolution),
                    start,
                    tick.price,
                    tick.price,
                    tick.price,
                    tick.price,
                    tick.time,
                    tick.time,
                    tick.simulated,
                )
    return list(buckets.values())


# PostgreSQL folds any relation of ticks (coin_id, time, price) into its
# buckets in one statement: the ingest's batch, or the whole tick table (the
# benchmark, a rebuild). Buckets are cut in UTC whatever the session zone.
POSTGRES_ROLLUPS_FROM_TICKS = """
INSERT INTO prices_pricerollup AS r
    (coin_id, resolution, bucket, open, high, low, close, open_time, close_time, simulated)
SELECT coin_id, resolution, bucket,
       (array_agg(price ORDER BY time))[1], max(price), min(price),
       (array_agg(price ORDER BY time DESC))[1], min(time), max(time), bool_or(simulated)
FROM (
    SELECT coin_id, '1m' AS resolution, date_trunc('minute', time, 'UTC') AS bucket, time,
           price, {simulated} AS simulated FROM {ticks}
    UNION ALL
    SELECT coin_id, '1h', date_trunc('hour', time, 'UTC'), time, price, {simulated} FROM {ticks}
) AS t
GROUP BY coin_id, resolution, bucket
ON CONFLICT (coin_id, resolution, bucket) DO UPDATE SET
    high = GREATEST(r.high, EXCLUDED.high),
    low = LEAST(r.low, EXCLUDED.low),
    open = CASE WHEN EXCLUDED.open_time < r.open_time THEN EXCLUDED.open ELSE r.open END,
    open_time = LEAST(r.open_time, EXCLUDED.open_time),
    close = CASE WHEN EXCLUDED.close_time > r.close_time THEN EXCLUDED.close ELSE r.close END,
    close_time = GREATEST(r.close_time, EXCLUDED.close_time),
    simulated = r.simulated OR EXCLUDED.simulated
"""
_TICKS_FROM_JSON = """
WITH v AS (
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(coin_id bigint, time timestamptz,
                                                   price numeric)
)
"""


def postgres_rollups_sql(ticks: str, simulated: bool | str = False) -> str:
    """The upsert reading ticks from `ticks` (a table, or a row source with alias)."""
    if isinstance(simulated, bool):
        simulated = "true" if simulated else "false"
    return POSTGRES_ROLLUPS_FROM_TICKS.format(ticks=ticks, simulated=simulated)


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


def upsert_rollups(ticks: list[TickPoint]) -> None:
    """Fold ticks into their minute and hour rollups (the ingest does this itself)."""
    if not ticks:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Ticks of one batch share their simulated flag in the ingest; here
            # they may not, so fold each kind separately.
            for simulated in (False, True):
                rows = [(t.coin_id, t.time, t.price) for t in ticks if t.simulated is simulated]
                if rows:
                    cursor.execute(
                        _TICKS_FROM_JSON + postgres_rollups_sql("v", simulated),
                        [json_rows(("coin_id", "time", "price"), rows)],
                    )
            return
        rows = [
            (
                b.coin_id,
                b.resolution,
                b.start,
                b.open,
                b.high,
                b.low,
                b.close,
                b.open_time,
                b.close_time,
                b.simulated,
            )
            for b in aggregate(ticks)
        ]
        cursor.executemany(_SQLITE_UPSERT, [sqlite_row(row) for row in rows])
