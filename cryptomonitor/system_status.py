"""What the staff "System status" page shows, read from what already holds it.

Nothing here is stored for the page: the feed's state is FeedState, the flow
of prices is the ticks table, backlog and failures are Delivery rows, queue
lengths are the broker's, and the counters since the processes started are
the same Prometheus registry /metrics serves (cryptomonitor.metrics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncMinute
from django.utils import timezone
from prometheus_client.samples import Sample

from common.process_metrics import metrics_registry
from notifications.metrics import celery_queue_lengths, outbox_backlog
from notifications.models import Delivery, DeliveryStatus
from prices.models import FeedState, PriceTick

# How far back the page looks for ticks and failures, and how many failures it lists.
RECENT = timedelta(minutes=10)
FAILURES_SHOWN = 20
# Counters the page sums by label since the processes started.
COUNTERS = {
    "polls": ("cryptomonitor_polls", "outcome"),
    "deliveries": ("cryptomonitor_deliveries", "outcome"),
    "fired": ("cryptomonitor_alerts_fired", "condition"),
}


@dataclass
class SystemStatus:
    feed: FeedState
    feed_stale: bool
    feed_backing_off: bool
    feed_age_seconds: float | None
    ticks_per_minute: list[tuple[datetime, int]]
    queue_lengths: dict[str, int | None]
    backlog: dict[str, int]
    failures: list[Delivery]
    retrying: list[Delivery]
    counters: dict[str, dict[str, float]] = field(default_factory=dict)
    websocket_connections: float | None = None


def current_status(now: datetime | None = None) -> SystemStatus:
    now = now or timezone.now()
    feed = FeedState.observed()
    counters, connections = _counters_since_start()
    return SystemStatus(
        feed=feed,
        feed_stale=feed.is_stale(now),
        feed_backing_off=feed.is_backing_off(now),
        feed_age_seconds=feed.seconds_since_success(now),
        ticks_per_minute=_ticks_per_minute(now),
        queue_lengths=celery_queue_lengths(),
        backlog=outbox_backlog(),
        failures=_recent(Delivery.objects.filter(status=DeliveryStatus.FAILED), now),
        retrying=_recent(
            Delivery.objects.filter(status=DeliveryStatus.PENDING, attempts__gt=0), now
        ),
        counters=counters,
        websocket_connections=connections,
    )


def _ticks_per_minute(now: datetime) -> list[tuple[datetime, int]]:
    rows = (
        PriceTick.objects.filter(time__gte=now - RECENT)
        .annotate(minute=TruncMinute("time"))
        .values("minute")
        .annotate(ticks=Count("id"))
        .order_by("-minute")
    )
    return [(row["minute"], row["ticks"]) for row in rows]


def _recent(rows, now: datetime) -> list[Delivery]:
    return list(
        rows.filter(updated_at__gte=now - RECENT * 6 * 24)  # the last day
        .select_related("user", "event")
        .order_by("-updated_at")[:FAILURES_SHOWN]
    )


def _counters_since_start() -> tuple[dict[str, dict[str, float]], float | None]:
    """Counter totals by label, and open WebSockets, from the metrics registry."""
    totals: dict[str, dict[str, float]] = {key: {} for key in COUNTERS}
    connections = None
    for family in metrics_registry().collect():
        for key, (name, label) in COUNTERS.items():
            if family.name == name:
                for sample in _totals(family.samples):
                    value = sample.labels.get(label, "")
                    totals[key][value] = totals[key].get(value, 0) + sample.value
        if family.name == "cryptomonitor_websocket_connections":
            connections = sum(sample.value for sample in family.samples)
    return totals, connections


def _totals(samples: list[Sample]) -> list[Sample]:
    return [sample for sample in samples if sample.name.endswith("_total")]
