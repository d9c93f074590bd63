"""One poll of the price feed: fetch, store, record the feed's health.

`poll_once()` is what beat's task and `manage.py poll_prices` run. It never
raises for a feed problem (timeouts, 429s, bad bodies): those are recorded on
FeedState, which backs the feed off and lets /healthz report it as stale,
while the worker and beat keep running.
"""

from __future__ import annotations

import functools
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from prices import metrics
from prices.coingecko import RateLimited
from prices.ingest import IngestResult, store_quotes
from prices.live import PRICES_GROUP, feed_status
from prices.logos import request_refresh
from prices.models import FeedState
from prices.quotes import FeedError, Rejection
from prices.sources import Source, current_source, tracked_coin_ids

logger = logging.getLogger(__name__)

LOCK_KEY = "prices:poll-lock"
# Longer than any poll can take (the task's hard time limit), so a killed
# worker's lock expires by itself.
LOCK_SECONDS = 60
# Beat's polls keep this share of PRICE_POLL_SECONDS between their starts.
# A second beat started by mistake sends each poll twice an interval; the lock
# only stops overlapping polls. Over half an interval: whatever the two beats'
# offset, one poll an interval goes through, and a poll picked up a few
# seconds late is not skipped.
SPACING_KEY = "prices:poll-spacing"
SPACING_SHARE = 0.6


@dataclass
class PollReport:
    skipped: str = ""  # why nothing was fetched
    error: str = ""  # the feed failure, when the fetch failed
    requested: int = 0
    ingest: IngestResult | None = None
    rejections: list[Rejection] = field(default_factory=list)
    backoff_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.error

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        if self.error:
            kept = f", {self.ingest.stored} new ticks from the rest" if self.ingest else ""
            wait = f" (backing off until {self.backoff_until})" if self.backoff_until else ""
            return f"feed error: {self.error}{kept}{wait}"
        ingest = self.ingest or IngestResult()
        return (
            f"{self.requested} requested, {ingest.stored} new ticks, "
            f"{len(ingest.changed)} changed, {len(self.rejections)} rejected"
        )


def with_poll_id(poll: Callable[..., PollReport]) -> Callable[..., PollReport]:
    """Bind a new poll_id for the poll and log its outcome.

    Every line the poll logs carries it, and so do those of the evaluation
    and deliveries it enqueues (django-structlog passes it in the Celery
    task headers): one batch can be followed to its notifications.
    """

    @functools.wraps(poll)
    def polled(*args, **kwargs) -> PollReport:
        with structlog.contextvars.bound_contextvars(poll_id=uuid.uuid4().hex):
            report = poll(*args, **kwargs)
            logger.info("Poll %s", report.summary())
            return report

    return polled


@with_poll_id
def poll_once(
    source: Source | None = None, *, force: bool = False, spaced: bool = False
) -> PollReport:
    """Poll the feed once unless it is backing off or another poll is running.

    `force` ignores the backoff (an operator running `poll_prices --once`).
    `spaced` (beat's task) also skips a poll started less than SPACING_SHARE of
    an interval after the last one.
    """
    state = FeedState.current()
    if state.is_backing_off() and not force:
        # No batch comes while we wait: tell open pages once the feed is stale.
        announce_feed(only_if_stale=True)
        metrics.record_skipped_poll("backoff")
        return PollReport(skipped=f"backing off until {state.backoff_until:%H:%M:%S} UTC")
    token = uuid.uuid4().hex
    if not _acquire(token):
        metrics.record_skipped_poll("locked")
        return PollReport(skipped="another poll is running")
    try:
        if spaced and not _claim_interval(token):
            metrics.record_skipped_poll("spaced")
            return PollReport(skipped="polled less than an interval ago")
        return _poll(state, source or current_source())
    finally:
        _release(token)


def _poll(state: FeedState, source: Source) -> PollReport:
    ids = tracked_coin_ids()
    if not ids:
        metrics.record_skipped_poll("no_coins")
        return PollReport(skipped="no coins are tracked (TRACKED_COINS is empty)")
    report = PollReport(requested=len(ids))
    started = time.perf_counter()
    try:
        fetched = source.fetch(ids)
        if not fetched.quotes:
            raise FeedError(
                f"no usable price among {len(ids)} coins ({len(fetched.rejections)} rejected)"
            )
    except FeedError as exc:
        _record_failure(
            state, report, exc, exc.retry_after or backoff(state.consecutive_failures + 1)
        )
        outcome = "rate_limited" if isinstance(exc, RateLimited) else "error"
        metrics.record_poll(outcome, time.perf_counter() - started, stored=0)
        return report
    for rejection in fetched.rejections:
        logger.warning(
            "Rejected %s from %s: %s", rejection.coingecko_id, state.name, rejection.reason
        )
    report.rejections = fetched.rejections
    # One transaction: the batch's broadcast (on commit) reads the feed's
    # state as this poll leaves it, so open pages learn what /healthz says.
    with transaction.atomic():
        report.ingest = store_quotes(fetched.quotes, source.price_source)
        # New image URLs are downloaded by a task of their own, after commit.
        transaction.on_commit(request_refresh)
        if fetched.failure:
            _record_partial(state, report, fetched.failure)
        else:
            state.record_success()
    outcome = "partial" if fetched.failure else "ok"
    metrics.record_poll(outcome, time.perf_counter() - started, report.ingest.stored)
    return report


def _record_partial(state: FeedState, report: PollReport, exc: FeedError) -> None:
    """A poll that read some pages only: not a good poll, not a failed one.

    The feed is not called good (last_success_at stays, so it goes stale if
    this persists), but CoinGecko did answer: the failure streak that grows
    the backoff ends, and the normal pace goes on unless it asked us to wait.
    """
    now = timezone.now()
    FeedState.objects.filter(pk=state.pk).update(
        last_attempt_at=now,
        consecutive_failures=0,
        last_error=str(exc)[:2000],
        backoff_until=now + exc.retry_after if exc.retry_after else None,
    )
    state.refresh_from_db()
    logger.warning(
        "Price feed %s answered in part: %s; next try in %.0f s",
        state.name,
        exc,
        exc.retry_after.total_seconds() if exc.retry_after else settings.PRICE_POLL_SECONDS,
    )
    report.error, report.backoff_until = str(exc), state.backoff_until


def _record_failure(state: FeedState, report: PollReport, exc: FeedError, wait: timedelta) -> None:
    state.record_failure(str(exc), wait)
    announce_feed()
    logger.warning(
        "Price feed %s failed (%d in a row): %s; next try in %.0f s",
        state.name,
        state.consecutive_failures,
        exc,
        wait.total_seconds(),
    )
    report.error, report.backoff_until = str(exc), state.backoff_until


def announce_feed(only_if_stale: bool = False) -> None:
    """Send open pages the feed's state when a poll brought no batch; never raise.

    Batches carry the feed's state, but a failed poll has no batch: without
    this an open page would show its last prices as current through a whole
    outage, until it reconnects.
    """
    try:
        feed = feed_status()
        if only_if_stale and not feed["stale"]:
            return
        async_to_sync(get_channel_layer().group_send)(
            PRICES_GROUP, {"type": "prices.feed", "feed": feed}
        )
    except Exception:
        logger.exception("Could not broadcast the price feed's state")


def backoff(failures: int) -> timedelta:
    """Exponential backoff from the poll interval, with jitter, capped.

    Full jitter in the upper half keeps many instances from retrying in step
    while still growing the wait with every failure.
    """
    ceiling = min(
        settings.PRICE_POLL_SECONDS * 2 ** max(failures - 1, 0),
        settings.COINGECKO_BACKOFF_CAP_SECONDS,
    )
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311


def _acquire(token: str) -> bool:
    try:
        return cache.add(LOCK_KEY, token, timeout=LOCK_SECONDS)
    except Exception:
        # No Redis, no lock: still poll, the writes are idempotent anyway.
        logger.warning("Poll lock unavailable; polling without it", exc_info=True)
        return True


def _claim_interval(token: str) -> bool:
    try:
        seconds = max(1, int(settings.PRICE_POLL_SECONDS * SPACING_SHARE))
        return cache.add(SPACING_KEY, token, timeout=seconds)
    except Exception:
        logger.warning("Poll spacing unavailable; polling anyway", exc_info=True)
        return True


def _release(token: str) -> None:
    try:
        # Only our own lock: after a timeout another poll may hold a new one.
        if cache.get(LOCK_KEY) == token:
            cache.delete(LOCK_KEY)
    except Exception:
        logger.warning("Could not release the poll lock", exc_info=True)
