"""Alert evaluation's Prometheus metrics (docs/metrics.md).

alerts.evaluation moves the counters and the histogram once per batch. The
active alerts are counted per coin and condition by one GROUP BY, every
COUNT_EVERY_SECONDS by beat (alerts.tasks.count_active_alerts), and kept in
Django's cache (Redis): evaluation reads them to count the alerts a batch was
evaluated against, never counting itself (at 1M alerts the GROUP BY costs
more than a batch), and ActiveAlertsCollector sums them per condition when
/metrics is served, counting only when beat has not yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from alerts.models import Alert, AlertEvent, Condition, Status

ACTIVE_COUNTS_KEY = "alerts:metrics:active-counts"
COUNT_EVERY_SECONDS = 30
# Two missed counts (beat down) and the figures are dropped, not served stale.
ACTIVE_COUNTS_SECONDS = 3 * COUNT_EVERY_SECONDS
FIRED_CONDITIONS_SQL = (
    "SELECT condition, count(*) FROM alerts_alert WHERE id = ANY(%s) GROUP BY condition"
)

EVALUATION_DURATION = Histogram(
    "cryptomonitor_alert_evaluation_duration_seconds",
    "evaluate_batch() of one price batch, seconds.",
)
BATCHES_EVALUATED = Counter(
    "cryptomonitor_alert_batches_evaluated", "Price batches evaluated against the alerts."
)
ALERTS_EVALUATED = Counter(
    "cryptomonitor_alerts_evaluated",
    "Active alerts on each batch's changed coins, summed over batches "
    f"(from counts cached for {ACTIVE_COUNTS_SECONDS} s).",
)
ALERTS_FIRED = Counter("cryptomonitor_alerts_fired", "Alerts fired, by condition.", ["condition"])
# Every condition exported from the start, at 0 (increase() misses a first sample).
for _condition in Condition.values:
    ALERTS_FIRED.labels(condition=_condition)


def count_active_alerts() -> dict[int, dict[str, int]]:
    """Count the active alerts per coin id and condition now, and cache the counts."""
    counts: dict[int, dict[str, int]] = {}
    rows = (
        Alert.objects.filter(status=Status.ACTIVE)
        .order_by()
        .values_list("coin_id", "condition")
        .annotate(n=Count("id"))
    )
    for coin_id, condition, n in rows:
        counts.setdefault(coin_id, {})[condition] = n
    cache.set(ACTIVE_COUNTS_KEY, counts, timeout=ACTIVE_COUNTS_SECONDS)
    return counts


def active_alert_counts() -> dict[int, dict[str, int]]:
    """Active alerts per coin id and condition; cached, counted on a miss."""
    counts = cache.get(ACTIVE_COUNTS_KEY)
    return count_active_alerts() if counts is None else counts


def active_alerts_by_condition() -> dict[str, int]:
    """Active alerts per condition (every condition present, 0 when none)."""
    totals = dict.fromkeys(Condition.values, 0)
    for per_condition in active_alert_counts().values():
        for condition, n in per_condition.items():
            totals[condition] = totals.get(condition, 0) + n
    return totals


def record_batch(coin_ids: Iterable[int], events: Sequence[AlertEvent], seconds: float) -> None:
    """Count one evaluated batch: its duration, the alerts it was judged against, firings."""
    EVALUATION_DURATION.observe(seconds)
    BATCHES_EVALUATED.inc()
    counts = cache.get(ACTIVE_COUNTS_KEY) or {}  # until beat's first count: none
    evaluated = sum(sum(counts.get(coin_id, {}).values()) for coin_id in coin_ids)
    if evaluated:
        ALERTS_EVALUATED.inc(evaluated)
    if events:
        for condition, n in fired_conditions(events).items():
            ALERTS_FIRED.labels(condition=condition).inc(n)


def fired_conditions(events: Sequence[AlertEvent]) -> dict[str, int]:
    """How many of `events` each condition fired: one query by primary key.

    One array parameter, not the ORM's IN list: with 400 firings the ORM's
    statement cost 2.8 ms, this one 1 ms (bench/alerts.py's 10k alerts).
    """
    with connection.cursor() as cursor:
        cursor.execute(FIRED_CONDITIONS_SQL, [[event.alert_id for event in events]])
        return dict(cursor.fetchall())


class ActiveAlertsCollector(Collector):
    """cryptomonitor_alerts_active{condition}, from the cached counts."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "cryptomonitor_alerts_active",
            f"Active alerts by condition (counts cached for {ACTIVE_COUNTS_SECONDS} s).",
            labels=["condition"],
        )
        for condition, n in sorted(active_alerts_by_condition().items()):
            family.add_metric([condition], n)
        yield family
