"""The price feed's and the live sockets' Prometheus metrics (docs/metrics.md).

The counters and histograms are defined once here and moved by the code that
does the work (prices.polling, prices.coingecko, prices.ingest,
prices.consumers, cryptomonitor.websocket_protocol). The feed's health is not
stored by any process: FeedCollector reads FeedState when /metrics is served,
through feed_metrics(), which the staff status page reads too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from django.conf import settings
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from prices.models import FeedState

# --- Polls --------------------------------------------------------------------------

POLL_DURATION = Histogram(
    "cryptomonitor_poll_duration_seconds", "One poll that fetched (fetch + store), seconds."
)
POLL_OUTCOMES = ("ok", "partial", "rate_limited", "error")
POLLS = Counter("cryptomonitor_polls", "Polls that fetched, by result.", ["outcome"])
SKIP_REASONS = ("backoff", "locked", "no_coins")
POLLS_SKIPPED = Counter(
    "cryptomonitor_polls_skipped", "Polls that did not fetch, by reason.", ["reason"]
)
POLL_COINS_STORED = Gauge(
    "cryptomonitor_poll_coins_stored",
    "New ticks stored by the last poll.",
    multiprocess_mode="mostrecent",
)
TICKS_STORED = Counter("cryptomonitor_ticks_stored", "New ticks stored by polls.")
COINGECKO_REQUESTS = Counter(
    "cryptomonitor_coingecko_requests",
    "HTTP requests to CoinGecko, by HTTP status or timeout / connection_error.",
    ["status"],
)

# --- Live WebSockets ----------------------------------------------------------------

WEBSOCKET_CONNECTIONS = Gauge(
    "cryptomonitor_websocket_connections",
    "Open WebSocket connections.",
    multiprocess_mode="livesum",
)
WEBSOCKET_MESSAGES_SENT = Counter(
    "cryptomonitor_websocket_messages_sent",
    "Frames sent to WebSocket clients, by message type.",
    ["type"],
)  # type: prices, snapshot, feed, alert, error
REFUSAL_REASONS = ("rate", "size")
WEBSOCKET_FRAMES_REFUSED = Counter(
    "cryptomonitor_websocket_frames_refused",
    "Client frames refused by the per-socket limits.",
    ["reason"],
)
BROADCAST_LATENCY = Histogram(
    "cryptomonitor_broadcast_latency_seconds",
    "Poll commit -> group_send of the price batch returned, seconds.",
)

# Children looked up once: .labels() costs a dict lookup under a lock per call.
SENT_PRICES = WEBSOCKET_MESSAGES_SENT.labels(type="prices")
SENT_SNAPSHOT = WEBSOCKET_MESSAGES_SENT.labels(type="snapshot")
SENT_FEED = WEBSOCKET_MESSAGES_SENT.labels(type="feed")
SENT_ALERT = WEBSOCKET_MESSAGES_SENT.labels(type="alert")
SENT_ERROR = WEBSOCKET_MESSAGES_SENT.labels(type="error")
# Every known label value exported from the start, at 0: increase() misses a
# series' first sample, so a process's first rate-limited poll would not count.
for _outcome in POLL_OUTCOMES:
    POLLS.labels(outcome=_outcome)
for _reason in SKIP_REASONS:
    POLLS_SKIPPED.labels(reason=_reason)
for _reason in REFUSAL_REASONS:
    WEBSOCKET_FRAMES_REFUSED.labels(reason=_reason)


def count_coingecko_request(status: int | str) -> None:
    COINGECKO_REQUESTS.labels(status=str(status)).inc()


def record_poll(outcome: str, seconds: float, stored: int) -> None:
    """One poll that fetched: its outcome, how long it took, the ticks it stored."""
    POLLS.labels(outcome=outcome).inc()
    POLL_DURATION.observe(seconds)
    POLL_COINS_STORED.set(stored)
    if stored:
        TICKS_STORED.inc(stored)


def record_skipped_poll(reason: str) -> None:
    POLLS_SKIPPED.labels(reason=reason).inc()


# --- Scrape time: the feed's health -------------------------------------------------


def feed_metrics(state: FeedState | None = None) -> dict[str, float | None]:
    """The feed's health as /metrics reports it, from FeedState (one query).

    age_seconds is +Inf and last_success_timestamp None when no poll ever
    succeeded; backoff_seconds is 0 when the feed is not backing off.
    """
    state = state or FeedState.observed()
    now = timezone.now()
    age = state.seconds_since_success(now)
    backoff = max((state.backoff_until - now).total_seconds(), 0.0) if state.backoff_until else 0.0
    return {
        "age_seconds": math.inf if age is None else max(age, 0.0),
        "last_success_timestamp": (
            state.last_success_at.timestamp() if state.last_success_at else None
        ),
        "backoff_seconds": backoff,
        "consecutive_failures": float(state.consecutive_failures),
        "poll_interval_seconds": float(settings.PRICE_POLL_SECONDS),
    }


class FeedCollector(Collector):
    """The feed gauges, read from the database when /metrics is served."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        feed = feed_metrics()
        yield GaugeMetricFamily(
            "cryptomonitor_feed_age_seconds",
            "Seconds since the last good poll; +Inf when there never was one.",
            value=feed["age_seconds"],
        )
        if feed["last_success_timestamp"] is not None:
            yield GaugeMetricFamily(
                "cryptomonitor_feed_last_success_timestamp_seconds",
                "Unix time of the last good poll.",
                value=feed["last_success_timestamp"],
            )
        yield GaugeMetricFamily(
            "cryptomonitor_feed_backoff_seconds",
            "Seconds until the feed's backoff ends, 0 when not backing off.",
            value=feed["backoff_seconds"],
        )
        yield GaugeMetricFamily(
            "cryptomonitor_feed_consecutive_failures",
            "Failed polls in a row.",
            value=feed["consecutive_failures"],
        )
        yield GaugeMetricFamily(
            "cryptomonitor_poll_interval_seconds",
            "The poll interval, PRICE_POLL_SECONDS.",
            value=feed["poll_interval_seconds"],
        )
