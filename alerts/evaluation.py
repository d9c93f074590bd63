"""Set-based evaluation of one price batch: match, claim and record alerts in SQL.

One batch (alerts.tasks.evaluate_alerts, sent by prices.hooks.live_batch_committed)
is a list of {"coin_id", "tick_id", "price", "previous_price", "time"}, one per
coin whose price changed, with the coin's market figures when known
("market_cap", "volume_24h", "change_24h_pct" and each one's "previous_"
value: alerts.matching.METRIC_KEYS). For the whole batch at once, in one
transaction:

1. re-arm every_time level alerts (price and market figures) whose condition
   is false again (alerts.claiming.rearm_level_alerts);
2. match alerts with indexed range scans per coin and condition
   (alerts.matching) and claim them in the same statement
   (alerts.claiming.FIRE_SQL);
3. in that statement too, write an AlertEvent per claimed alert, with its
   reason (alerts.reasons), and its deliveries through the outbox.

The work grows with the number of matching alerts, not with all alerts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from alerts import metrics
from alerts.claiming import fire_matching_alerts, rearm_level_alerts
from alerts.matching import PriceChange, evaluated_rates, window_movements
from alerts.models import AlertEvent

# Settings (name, value) for the evaluating transaction only (SET LOCAL).
# JIT compiling these statements costs tens of milliseconds; they run in a
# few. Plain index scans only: a fired alert's old version stays in the armed
# indexes until VACUUM, and a bitmap probe revisits its heap page in every
# batch, while an index scan marks the entry dead once and then skips it (1M
# alerts, 1,000 firing, 62k fired since the last vacuum: 15 ms less per
# batch). Sequential scans off too: with bitmaps off alone, 6,000 alerts on
# one coin made the planner scan the whole table for each level probe. Every
# table read here has its index (alerts/tests/test_matching_plan.py).
PLAN_SETTINGS = (
    ("jit", "off"),
    ("enable_bitmapscan", "off"),
    ("enable_seqscan", "off"),
)


def evaluate_batch(batch: Sequence[dict], now: datetime | None = None) -> list[AlertEvent]:
    """Evaluate every alert against one price batch; return the events fired.

    `now` defaults to the current time; it decides cooldowns and expiry and
    stamps the events (a replay of history passes the tick times).
    """
    started = time.perf_counter()
    changes = _latest_per_coin(PriceChange.from_message(item) for item in batch)
    if not changes:
        return []
    now = now or timezone.now()
    movements = window_movements(changes)
    # Inside a caller's transaction our block is a savepoint, and SET LOCAL
    # would outlive it: the caller's later queries would be planned with our
    # settings. Then they are put back at the end.
    nested = connection.in_atomic_block
    with transaction.atomic():
        previous = apply_plan_settings(PLAN_SETTINGS, keep_previous=nested)
        rates = evaluated_rates(now)
        rearm_level_alerts(changes, rates)
        events = fire_matching_alerts(changes, movements, now, rates)
        apply_plan_settings(previous)
    seconds = time.perf_counter() - started
    metrics.record_batch([change.coin_id for change in changes], events, seconds)
    return events


def apply_plan_settings(
    settings: Sequence[tuple[str, str]], keep_previous: bool = False
) -> tuple[tuple[str, str], ...]:
    """SET LOCAL each (name, value); return the values they had when `keep_previous`."""
    if not settings:
        return ()
    names = [name for name, _ in settings]
    previous = ", ".join("current_setting(%s)" for _ in names) if keep_previous else "NULL"
    applied = ", ".join("set_config(%s, %s, true)" for _ in settings)
    params = [*(names if keep_previous else []), *(v for pair in settings for v in pair)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {previous}, {applied}", params)  # noqa: S608 (placeholders only)
        row = cursor.fetchone()
    return tuple(zip(names, row[: len(names)], strict=True)) if keep_previous else ()


def _latest_per_coin(changes: Iterable[PriceChange]) -> list[PriceChange]:
    latest: dict[int, PriceChange] = {}
    for change in changes:
        if change.coin_id not in latest or change.time >= latest[change.coin_id].time:
            latest[change.coin_id] = change
    return sorted(latest.values(), key=lambda change: change.coin_id)
