"""Price history for charts (contract 5) and the retention of raw ticks.

Each range reads the coarsest table that still has enough detail: raw ticks
for the last hour, minute rollups up to a week, hour rollups beyond. The
database then regroups the rows into at most ~1,000 buckets and keeps the
last price of each, so a year of 10-second ticks costs a few hundred rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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


# {bucket} is the vendor's expression for "which bucket is this time in".
# The last price of each bucket is its close.
_TICKS_SQL = """
    SELECT {select} FROM prices_pricetick
    WHERE coin_id = %s AND time >= %s AND time <= %s
"""
_ROLLUPS_SQL = """
    SELECT {select} FROM prices_pricerollup
    WHERE coin_id = %s AND resolution = %s AND bucket >= %s AND bucket <= %s
"""
# PostgreSQL: DISTINCT ON keeps the first row of each bucket in ORDER BY
# order, i.e. the latest. Rollups are read by their close.
_POSTGRES_SELECT = {
    "ticks": (
        "DISTINCT ON (floor(extract(epoch FROM time) / {step})) time, price",
        "ORDER BY floor(extract(epoch FROM time) / {step}), time DESC",
    ),
    "rollups": (
        "DISTINCT ON (floor(extract(epoch FROM bucket) / {step})) close_time, close",
        "ORDER BY floor(extract(epoch FROM bucket) / {step}), bucket DESC",
    ),
}
# SQLite: a bare column next to max() comes from the row holding the max.
_SQLITE_SELECT = {
    "ticks": (
        "max(time), price",
        "GROUP BY CAST(strftime('%%s', time) AS INTEGER) / {step} ORDER BY 1",
    ),
    "rollups": (
        "max(close_time), close",
        "GROUP BY CAST(strftime('%%s', bucket) AS INTEGER) / {step} ORDER BY 1",
    ),
}


def _run(sql: str, step: int, params: list) -> list[tuple[datetime, Decimal]]:
    kind = "ticks" if sql is _TICKS_SQL else "rollups"
    postgres = connection.vendor == "postgresql"
    select, tail = (_POSTGRES_SELECT if postgres else _SQLITE_SELECT)[kind]
    query = sql.format(select=select.format(step=step)) + tail.format(step=step)
    if not postgres:
        params = [
            connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
            for p in params
        ]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    return [(_as_datetime(time), _as_decimal(price)) for time, price in rows]


def _as_datetime(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite aggregates come back as text
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _as_decimal(value: Decimal | float | int | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


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
