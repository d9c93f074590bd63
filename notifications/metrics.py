"""Deliveries' Prometheus metrics, the outbox backlog and the Celery queues (docs/metrics.md).

notifications.delivery counts each settled attempt where it records it. The
backlog (Delivery rows) and the broker's queue lengths are read when /metrics
is served, by outbox_backlog() and celery_queue_lengths(), which the staff
status page calls too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.db.models import Count, Q
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from common.delivery_channels import Channel
from notifications.models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

# Seconds from an alert firing to its delivery marked sent: a mail server
# answers in well under a second, a retry waits minutes to an hour.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, float("inf"))
# Celery's default queue when CELERY_TASK_DEFAULT_QUEUE is not set.
DEFAULT_QUEUE = "celery"
BROKER_TIMEOUT_SECONDS = 2

DELIVERIES = Counter(
    "cryptomonitor_deliveries",
    "Delivery attempts settled, by channel and outcome (sent, retry, failed).",
    ["channel", "outcome"],
)
DELIVERY_LATENCY = Histogram(
    "cryptomonitor_delivery_latency_seconds",
    "Alert fired (AlertEvent time) -> delivery marked sent, seconds.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
SWEEPER_RECOVERIES = Counter(
    "cryptomonitor_sweeper_recoveries",
    "Deliveries the sweeper re-enqueued or took back from a stopped worker.",
)
DIGESTS_SENT = Counter("cryptomonitor_digests_sent", "Email digests sent.")

# The metric's outcome for each status an attempt leaves its row in.
OUTCOMES = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.PENDING: "retry",
    DeliveryStatus.FAILED: "failed",
}
# Every channel and outcome exported from the start, at 0: increase() misses
# a series' first sample, so a process's first failure would not count.
for _channel in Channel.values:
    DELIVERY_LATENCY.labels(channel=_channel)
    for _outcome in OUTCOMES.values():
        DELIVERIES.labels(channel=_channel, outcome=_outcome)


def record_attempts(deliveries: Iterable[Delivery], status: str, sent_at: datetime) -> None:
    """Count settled attempts that left their rows in `status`; time the sent ones.

    Latency is measured only for alert deliveries (a test send or a summary has
    no event; summaries time their own claims, summaries.metrics);
    their event is loaded with them (notifications.notices.with_notice_relations).
    """
    outcome = OUTCOMES[status]
    for delivery in deliveries:
        DELIVERIES.labels(channel=delivery.channel, outcome=outcome).inc()
        if status == DeliveryStatus.SENT and delivery.event_id is not None:
            latency = (sent_at - delivery.event.triggered_at).total_seconds()
            DELIVERY_LATENCY.labels(channel=delivery.channel).observe(max(latency, 0.0))


# --- Scrape time ----------------------------------------------------------------------


def outbox_backlog() -> dict[str, int]:
    """Deliveries not settled: pending (never tried), retry (pending after a
    failed attempt) and sending; one query on the sweeper's partial index."""
    unfinished = Delivery.objects.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
    )
    pending = Q(status=DeliveryStatus.PENDING)
    return unfinished.aggregate(
        pending=Count("pk", filter=pending & Q(attempts=0)),
        retry=Count("pk", filter=pending & Q(attempts__gt=0)),
        sending=Count("pk", filter=Q(status=DeliveryStatus.SENDING)),
    )


def celery_queue_names() -> list[str]:
    """The default queue and every queue CELERY_TASK_ROUTES sends tasks to."""
    names = [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", None) or DEFAULT_QUEUE]
    for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values():
        queue = route.get("queue") if isinstance(route, dict) else None
        if queue and queue not in names:
            names.append(queue)
    return names


def celery_queue_lengths() -> dict[str, int | None]:
    """Messages waiting in each queue (Redis LLEN), None for all when the broker
    cannot be reached.

    Kombu keeps a queue's messages of each priority in a list of its own; a
    queue's length is their sum.
    """
    names = celery_queue_names()
    try:
        # Timeouts on every read too: a Redis that accepts but never answers
        # must not hold a web thread per scrape.
        deadline = {"socket_timeout": BROKER_TIMEOUT_SECONDS}
        deadline["socket_connect_timeout"] = BROKER_TIMEOUT_SECONDS
        with current_app.connection_for_read(transport_options=deadline) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS
            )
            channel = connection.default_channel
            pipe = channel.client.pipeline()
            keys = {
                name: [channel._q_for_pri(name, pri) for pri in channel.priority_steps]
                for name in names
            }
            for name in names:
                for key in keys[name]:
                    pipe.llen(key)
            lengths = iter(pipe.execute())
            return {name: sum(next(lengths) for _ in keys[name]) for name in names}
    except Exception:
        logger.warning("Could not read the Celery queue lengths", exc_info=True)
        return dict.fromkeys(names)


class OutboxCollector(Collector):
    """cryptomonitor_outbox_backlog{state} and cryptomonitor_celery_queue_length{queue}."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(
            "cryptomonitor_outbox_backlog",
            "Deliveries not settled, by state (pending, retry, sending).",
            labels=["state"],
        )
        for state, n in outbox_backlog().items():
            backlog.add_metric([state], n)
        yield backlog
        queues = GaugeMetricFamily(
            "cryptomonitor_celery_queue_length",
            "Messages waiting in each Celery queue (Redis LLEN).",
            labels=["queue"],
        )
        for name, n in celery_queue_lengths().items():
            if n is not None:
                queues.add_metric([name], n)
        yield queues
