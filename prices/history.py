"""Price history for charts and the retention of raw ticks.

Each range reads the coarsest table that still has enough detail: raw ticks
for the last hour, minute rollups up to a week, hour rollups beyond. The
database then regroups the rows into at most ~1,000 buckets and keeps the
last price of each, so a year of 10-second ticks costs a few hundred rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from prices.models import Coin, PriceRollup, PriceTick, Resolution

RANGES = ("1h", "24h", "7d", "30d", "1y", "all")
MAX_POINTS = 1000


@dataclass(frozen=True)
class _Plan:
    span: timedelta | None  # None: since the first stored price
    table: str  # "ticks" or a Resolution


_PLANS = {
    "1h": _Plan(timedelta(hours=1), "ticks"),
    "24h": _Plan(timedelta(hours=24), Resolution.MINUTE),
    "7d": _Plan(timedelta(days=7), Resolution.MINUTE),
    "30d": _Plan(timedelta(days=30), Resolution.HOUR),
    "1y": _Plan(timedelta(days=365), Resolution.HOUR),
    "all": _Plan(None, Resolution.HOUR),
}

# Bucket widths in seconds: round numbers make evenly spaced charts.
_STEPS = (
    1,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    14400,
    21600,
    43200,
    86400,
    172800,
    604800,
)


def bucket_seconds(span: timedelta) -> int:
    """The smallest round bucket width that cuts `span` into at most MAX_POINTS."""
    needed = span.total_seconds() / MAX_POINTS
    for step in _STEPS:
        if step >= needed:
            return step
    return int(-(-needed // 86400) * 86400)  # whole days beyond a week


def price_history(
    coin: Coin, range_key: str, now: datetime | None = None
) -> list[tuple[datetime, Decimal]]:
    """(time, price) pairs, ascending, at most ~MAX_POINTS, for one chart range."""
    if range_key not in _PLANS:
        raise ValueError(f"Unknown range {range_key!r}; expected one of {', '.join(RANGES)}")
    plan = _PLANS[range_key]
    now = now or timezone.now()
    start = now - plan.span if plan.span else _first_hour_bucket(coin)
    if start is None:
        return []
    step = bucket_seconds(now - start)
    if plan.table == "ticks":
        sql, params = _TICKS_SQL, [coin.pk, start, now]
    else:
        sql, params = _ROLLUPS_SQL, [coin.pk, str(plan.table), start, now]
    return _run(sql, step, params)


def _first_hour_bucket(coin: Coin) -> datetime | None:
    return (
        PriceRollup.objects.filter(coin=coin, resolution=Resolution.HOUR)
        .order_by("bucket")
        .values_list("bucket", flat=True)
        .first()
    )


# DISTINCT ON keeps the first row of each bucket in ORDER BY order, i.e. the
# latest: the last price of each bucket is its close. Rollups are read by
# their close.
_TICKS_SQL = """
    SELECT DISTINCT ON (floor(extract(epoch FROM time) / {step})) time, price
    FROM prices_pricetick
    WHERE coin_id = %s AND time >= %s AND time <= %s
    ORDER BY floor(extract(epoch FROM time) / {step}), time DESC
"""
_ROLLUPS_SQL = """
    SELECT DISTINCT ON (floor(extract(epoch FROM bucket) / {step})) close_time, close
    FROM prices_pricerollup
    WHERE coin_id = %s AND resolution = %s AND bucket >= %s AND bucket <= %s
    ORDER BY floor(extract(epoch FROM bucket) / {step}), bucket DESC
"""


def _run(sql: str, step: int, params: list) -> list[tuple[datetime, Decimal]]:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(step=step), params)
        return cursor.fetchall()


# --- Retention -------------------------------------------------------------------

PURGE_BATCH_SIZE = 10_000


@dataclass
class PurgeReport:
    ticks: int = 0
    minute_rollups: int = 0


def purge_expired_prices(
    now: datetime | None = None, batch_size: int = PURGE_BATCH_SIZE
) -> PurgeReport:
    """Delete raw ticks and minute rollups past retention; hour rollups stay forever.

    Deletes in short batches, each its own transaction, so a large purge never
    holds long locks against the poller.
    """
    now = now or timezone.now()
    tick_cutoff = now - timedelta(days=settings.PRICE_TICK_RETENTION_DAYS)
    rollup_cutoff = now - timedelta(days=settings.PRICE_MINUTE_ROLLUP_RETENTION_DAYS)
    # Ticks are found through their time index; rollups coin by coin through
    # the (coin, resolution, bucket) index, which has no other way in.
    minute_rollups = PriceRollup.objects.filter(
        resolution=Resolution.MINUTE, bucket__lt=rollup_cutoff
    )
    return PurgeReport(
        ticks=_delete_in_batches(PriceTick.objects.filter(time__lt=tick_cutoff), batch_size),
        minute_rollups=sum(
            _delete_in_batches(minute_rollups.filter(coin_id=coin_id), batch_size)
            for coin_id in Coin.objects.values_list("pk", flat=True).iterator()
        ),
    )


def _delete_in_batches(queryset, batch_size: int) -> int:
    total = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return total
            total += queryset.model.objects.filter(pk__in=ids).delete()[0]
