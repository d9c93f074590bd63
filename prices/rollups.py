"""Minute and hour open/high/low/close rollups, maintained on every ingest.

The upsert is idempotent and order-independent: re-ingesting a tick, or
ingesting ticks out of order (a backfill after live polls), yields the same
rows. High and low take the extreme, open comes from the earliest tick and
close from the latest, so each bucket is a pure function of its ticks.
"""

from __future__ import annotations

# One statement folds any relation of ticks (coin_id, time, price) into its
# buckets: the ingest's batch, or the whole tick table (the benchmark, a
# rebuild). Buckets are cut in UTC whatever the session zone.
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


def postgres_rollups_sql(ticks: str, simulated: bool | str = False) -> str:
    """The upsert reading ticks from `ticks` (a table, or a row source with alias)."""
    if isinstance(simulated, bool):
        simulated = "true" if simulated else "false"
    return POSTGRES_ROLLUPS_FROM_TICKS.format(ticks=ticks, simulated=simulated)
