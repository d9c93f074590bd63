"""Scheduled summaries' Prometheus metrics (docs/metrics.md).

Their deliveries count in notifications' series like any (by channel and
outcome); here, each occurrence claimed and how late its claim came after
the time it was due: a minute's beat adds up to a minute, an outage the
time it lasted (within the catch-up window).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from summaries.models import SummaryOccurrence

# Beat runs every minute: most claims come within seconds of the minute.
LATENESS_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, float("inf"))

SUMMARIES_CLAIMED = Counter(
    "cryptomonitor_summaries_claimed", "Scheduled summaries claimed (one per occurrence)."
)
SUMMARY_LATENESS = Histogram(
    "cryptomonitor_summary_lateness_seconds",
    "A summary's time -> its claim (deliveries written), seconds.",
    buckets=LATENESS_BUCKETS,
)


def record_claim(occurrence: SummaryOccurrence) -> None:
    SUMMARIES_CLAIMED.inc()
    lateness = (occurrence.created_at - occurrence.scheduled_for).total_seconds()
    SUMMARY_LATENESS.observe(max(lateness, 0.0))
