"""Sending deliveries: claim, send, record; retries, email digests and the sweeper.

Every step that decides who sends a row is one conditional UPDATE on its
status (Delivery.objects.claim), so two workers never both send it. Delivery is
at-least-once: a duplicate is possible only when a worker dies after the
provider accepted the message and before the row was marked sent.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from common.api_throttling import count
from common.delivery_channels import Channel
from common.structured_logs import redact_text
from notifications import metrics
from notifications.models import Delivery, DeliveryKind, DeliveryStatus, EmailDigest
from notifications.notices import load_delivery, notice_for, with_notice_relations
from notifications.outbox import DELIVER_ONE, enqueue_deliveries, enqueue_on_commit
from notifications.transports import TooLate, TransportError, transport_for
from notifications.transports.email import EmailTransport

logger = logging.getLogger(__name__)

BACKOFF_CAP_SECONDS = 3600.0
# The sweeper leaves young pending rows alone: their task is most likely queued.
SWEEP_GRACE = timedelta(seconds=10)
SWEEP_BATCH = 5000


def enqueue(delivery_id: int, countdown: float | None = None) -> None:
    current_app.signature(DELIVER_ONE, args=(delivery_id,)).apply_async(countdown=countdown)


def backoff_seconds(attempts: int) -> float:
    """Exponential in the attempts made so far, with jitter so retries spread out."""
    base = settings.NOTIFICATIONS_BACKOFF_BASE_SECONDS
    ceiling = min(BACKOFF_CAP_SECONDS, base * 2 ** (attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def new_token() -> str:
    return uuid.uuid4().hex


def deliver(delivery_id: int, now: datetime | None = None) -> str | None:
    """Send one delivery if it is ours to send; return its new status or None."""
    now = now or timezone.now()
    token = new_token()
    if not Delivery.objects.filter(pk=delivery_id).claimable(now).claim(now, token):
        return None  # sent, failed, backing off, or another worker has it
    return send_claimed(load_delivery(delivery_id), now).get(delivery_id)


def deliver_many(delivery_ids: list[int], now: datetime | None = None) -> dict[int, str]:
    """Send a chunk of deliveries: claimed in one UPDATE, loaded in one query.

    Each row is still claimed exactly once; rows another worker holds are
    skipped. A row that went out inside a digest is not sent again. Webhook
    and Apprise rows are not sent here but enqueued one task each.
    """
    now = now or timezone.now()
    token = new_token()
    rows = Delivery.objects.filter(pk__in=delivery_ids)
    # A user-aimed send may take its whole deadline: 25 of them back to back
    # would hold one worker slot for minutes, all for one user. Those rows get
    # a task each instead, so the per-user cap (send_slot) spreads them.
    enqueue_deliveries(
        list(
            rows.filter(channel__in=USER_AIMED_CHANNELS).claimable(now).values_list("pk", flat=True)
        )
    )
    rows.exclude(channel__in=USER_AIMED_CHANNELS).claimable(now).claim(now, token)
    outcomes: dict[int, str] = {}
    for delivery in with_notice_relations(
        Delivery.objects.filter(pk__in=delivery_ids).claimed_by(token).order_by("pk")
    ):
        if delivery.pk in outcomes:
            continue  # it went out inside a digest with an earlier row
        if delivery.lease_expires_at <= timezone.now():
            # The chunk's sends outlasted the lease they all share: the sweeper
            # may already have handed this row to another worker. Sending it
            # too would duplicate it; the sweeper settles it instead.
            continue
        outcomes.update(send_claimed(delivery, now))
    return outcomes


def send_claimed(delivery: Delivery, now: datetime) -> dict[int, str]:
    """Send a row we hold; return the outcome of every row settled with it."""
    if delivery.channel == Channel.EMAIL and in_email_burst(delivery, now):
        return deliver_digest(delivery, now)
    with send_slot(delivery) as slot:
        if not slot:
            # The user's other sends hold every slot: the worker goes to someone else's.
            wait = settings.OUTBOUND_TIMEOUT_SECONDS * random.uniform(0.5, 1.0)
            return {delivery.pk: _hand_back(delivery, timezone.now() + timedelta(seconds=wait))}
        try:
            notice = notice_for(delivery)
            # Past its lease the sweeper may have handed the row to another
            # worker, which sends it; this one must not. A read that stalls
            # (PostgreSQL on a cut link answers only once the link is back)
            # can outlast it: the transport checks the lease again as its
            # last step before anything goes out, after its own reads.
            transport = transport_for(
                delivery.channel, delivery.user, not_after=delivery.lease_expires_at
            )
            transport.in_time()
            transport.send(notice)
        except TooLate:
            return _left_to_the_sweeper([delivery])
        except Exception as exc:
            error = _as_transport_error(exc, delivery)
            return {delivery.pk: log_outcome(delivery, record_failure(delivery, error), error)}
    sent_at = timezone.now()
    if delivery.mark_sent(sent_at):
        metrics.record_attempts([delivery], DeliveryStatus.SENT, sent_at)
    return {delivery.pk: log_outcome(delivery, DeliveryStatus.SENT)}


# Channels whose destination a user chooses: each send may take its whole
# OUTBOUND_TIMEOUT_SECONDS (a tarpit), so one user's sends are capped.
USER_AIMED_CHANNELS = (Channel.WEBHOOK, Channel.APPRISE, Channel.WEB_PUSH)
# At most this many of one user's user-aimed sends at once, across all workers:
# a user with 100 alerts aimed at a tarpit holds this many worker slots, not all.
USER_SENDS_IN_FLIGHT = 2
# A slot outlives its send's deadline by this much, then frees itself (a
# worker that died mid-send cannot keep it).
SEND_SLOT_MARGIN_SECONDS = 10


@contextmanager
def send_slot(delivery: Delivery) -> Iterator[bool]:
    """Hold one of the user's USER_SENDS_IN_FLIGHT send slots while sending; False if all
    are taken. Email and in-app sends need none.

    Each slot is a cache key (Redis) set only if absent (`cache.add`: SET NX
    EX), so workers never both hold one; it expires a little after the send's
    deadline in case its holder dies, and is deleted when the send ends.
    """
    if delivery.channel not in USER_AIMED_CHANNELS:
        yield True
        return
    timeout = math.ceil(settings.OUTBOUND_TIMEOUT_SECONDS) + SEND_SLOT_MARGIN_SECONDS
    for number in range(USER_SENDS_IN_FLIGHT):
        key = f"notifications:send-slot:{delivery.user_id}:{number}"
        if cache.add(key, delivery.claim_token, timeout=timeout):
            break
    else:
        yield False
        return
    try:
        yield True
    finally:
        # Only ours: the send is bounded well within the slot's lifetime, so it
        # is still ours unless the process stalled past it.
        if cache.get(key) == delivery.claim_token:
            cache.delete(key)


def record_failure(delivery: Delivery, error: TransportError) -> str:
    """Fail for good, or put the row back to pending with backoff and re-enqueue."""
    if error.permanent:
        if delivery.mark_failed(f"permanent: {error}"):
            metrics.record_attempts([delivery], DeliveryStatus.FAILED, timezone.now())
        return DeliveryStatus.FAILED
    if delivery.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        if delivery.mark_failed(f"gave up after {delivery.attempts} attempts: {error}"):
            metrics.record_attempts([delivery], DeliveryStatus.FAILED, timezone.now())
        return DeliveryStatus.FAILED
    delay = backoff_seconds(delivery.attempts)
    if delivery.mark_retry(str(error), timezone.now() + timedelta(seconds=delay)):
        metrics.record_attempts([delivery], DeliveryStatus.PENDING, timezone.now())
        enqueue(delivery.pk, countdown=delay)
    return DeliveryStatus.PENDING


def _as_transport_error(exc: Exception, delivery: Delivery) -> TransportError:
    if isinstance(exc, TransportError):
        return exc
    # A bug or an outage we did not foresee: keep the row and retry it.
    logger.exception("delivery %s (%s) failed unexpectedly", delivery.pk, delivery.channel)
    return TransportError(f"unexpected error: {exc.__class__.__name__}: {exc}")


def log_outcome(delivery: Delivery, status: str, error: TransportError | None = None) -> str:
    """Log one line for a send's outcome (sent, retry, failed) and return `status`.

    The line names the delivery, its event or summary and channel, never the destination;
    an error's text (which may hold the user's URL) is redacted.
    """
    outcome = {DeliveryStatus.SENT: "sent", DeliveryStatus.FAILED: "failed"}.get(status, "retry")
    fields = {
        "delivery_id": delivery.pk,
        "event_id": delivery.event_id,
        "summary_id": delivery.summary_id,
        "channel": delivery.channel,
        "outcome": outcome,
        "attempts": delivery.attempts,
    }
    if error is not None:
        fields["error"] = redact_text(str(error))
    level = logging.WARNING if outcome == "failed" else logging.INFO
    logger.log(level, "Delivery %s %s", delivery.pk, outcome, extra=fields)
    return status


def _left_to_the_sweeper(deliveries: list[Delivery]) -> dict[int, str]:
    """Log rows whose lease ended before their send went out; no outcome is theirs to record."""
    for delivery in deliveries:
        logger.info(
            "Delivery %s not sent: its lease ended before the send, the sweeper takes it back",
            delivery.pk,
            extra={"delivery_id": delivery.pk, "channel": delivery.channel, "outcome": "too late"},
        )
    return {}


# --- Email digests ----------------------------------------------------------------


def in_email_burst(delivery: Delivery, now: datetime) -> bool:
    """True when more than the threshold of the user's alert emails are recent.

    A digest sent within the last two windows also counts: the storm is still
    going, and the alerts held back since then go out together.
    """
    if delivery.kind != DeliveryKind.ALERT:
        return False  # tests, and summaries (a digest of their own), go alone
    window = timedelta(seconds=settings.NOTIFICATIONS_EMAIL_GROUP_WINDOW_SECONDS)
    threshold = settings.NOTIFICATIONS_EMAIL_GROUP_THRESHOLD
    # One query on the user's row: recent alert emails, and any digest lately.
    recent = (
        Delivery.objects.filter(
            user_id=OuterRef("pk"),
            channel=Channel.EMAIL,
            event__isnull=False,
            created_at__gte=now - window,
        )
        .order_by()
        .values("user_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    storm = EmailDigest.objects.filter(user_id=OuterRef("pk"), sent_at__gte=now - 2 * window)
    found = (
        get_user_model()
        .objects.filter(pk=delivery.user_id)
        .values(recent=Subquery(recent), storm=Exists(storm))
        .get()
    )
    return (found["recent"] or 0) > threshold or bool(found["storm"])


def deliver_digest(delivery: Delivery, now: datetime) -> dict[int, str]:
    """Send the user's pending alert emails as one digest, at most one per window.

    The caller holds `delivery`; one conditional UPDATE claims the user's other
    pending alert emails and tags them with the digest, so concurrent tasks
    split the rows between them and none is sent twice. Rows the caller
    already holds under the same token (a chunk) join the digest too.
    """
    window = timedelta(seconds=settings.NOTIFICATIONS_EMAIL_GROUP_WINDOW_SECONDS)
    last_sent = (
        EmailDigest.objects.filter(user_id=delivery.user_id, sent_at__isnull=False)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    if last_sent is not None and last_sent > now - window:
        # Waiting for the next window costs no attempt.
        return {delivery.pk: _hand_back(delivery, last_sent + window)}
    digest = EmailDigest.objects.create(user_id=delivery.user_id)
    alert_emails = Delivery.objects.filter(
        user_id=delivery.user_id, channel=Channel.EMAIL, event__isnull=False
    )
    alert_emails.claimable(now).claim(now, delivery.claim_token, digest=digest)
    alert_emails.claimed_by(delivery.claim_token).update(digest=digest)
    members = list(
        with_notice_relations(
            Delivery.objects.filter(digest=digest).claimed_by(delivery.claim_token)
        ).order_by("event__triggered_at", "pk")
    )
    try:
        notices = [notice_for(member) for member in members]
        # As send_claimed: rows whose lease ran out while we read (a database
        # that stopped answering) may be another worker's by now; they leave
        # the digest for the sweeper.
        expired = [m.pk for m in members if m.lease_expires_at <= timezone.now()]
        if expired:
            Delivery.objects.filter(pk__in=expired).claimed_by(delivery.claim_token).update(
                digest=None
            )
            kept = [(m, n) for m, n in zip(members, notices, strict=True) if m.pk not in expired]
            members, notices = [m for m, _ in kept], [n for _, n in kept]
            if not members:
                return {}
        # The transport checks the leases once more as the email goes out,
        # after its own read of the address.
        transport = EmailTransport(
            delivery.user, not_after=min(m.lease_expires_at for m in members)
        )
        # A lone alert held back after a storm reads better as a normal email.
        message_id = (
            transport.send(notices[0]) if len(notices) == 1 else transport.send_digest(notices)
        )
    except TooLate:
        # Left to the sweeper like the expired rows above, out of the digest.
        Delivery.objects.filter(digest=digest).claimed_by(delivery.claim_token).update(digest=None)
        return _left_to_the_sweeper(members)
    except Exception as exc:
        error = _as_transport_error(exc, delivery)
        return {
            member.pk: log_outcome(member, record_failure(member, error), error)
            for member in members
        }
    sent_at = timezone.now()
    with transaction.atomic():
        EmailDigest.objects.filter(pk=digest.pk).update(sent_at=sent_at, message_id=message_id)
        Delivery.objects.filter(digest=digest).claimed_by(delivery.claim_token).update(
            status=DeliveryStatus.SENT,
            sent_at=sent_at,
            last_error="",
            lease_expires_at=None,
            updated_at=sent_at,
        )
    if len(members) > 1:  # a lone alert went out as a normal email
        metrics.DIGESTS_SENT.inc()
    metrics.record_attempts(members, DeliveryStatus.SENT, sent_at)
    return {member.pk: log_outcome(member, DeliveryStatus.SENT) for member in members}


def _hand_back(delivery: Delivery, send_at: datetime) -> str:
    """Give a row we hold back, pending until `send_at`, without counting an attempt.

    For rows that must wait rather than fail: the next digest's window, or a
    free send slot of the user's.
    """
    released = (
        Delivery.objects.filter(pk=delivery.pk)
        .claimed_by(delivery.claim_token)
        .update(
            status=DeliveryStatus.PENDING,
            attempts=F("attempts") - 1,
            next_attempt_at=send_at,
            lease_expires_at=None,
            updated_at=timezone.now(),
        )
    )
    if released:
        enqueue(delivery.pk, countdown=max(0.0, (send_at - timezone.now()).total_seconds()))
    return DeliveryStatus.PENDING


# --- Test notifications -------------------------------------------------------------


TEST_SEND_WINDOW_SECONDS = 60


class TooManyTestSends(Exception):
    """The user's test sends of this minute are used up; `retry_after` in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many test notifications: at most {settings.NOTIFICATIONS_TEST_SENDS_PER_MINUTE}"
            f" a minute. Try again in {retry_after} s."
        )
        self.retry_after = retry_after


def send_test_notifications(user, channels: list[str]) -> list[Delivery]:
    """Queue a test message on each channel (a Delivery with no event).

    Used by the settings page's "send test" buttons and the alert admin's
    "send a test notification" action; the result shows in the user's
    deliveries like any other. Each call counts against the user's
    NOTIFICATIONS_TEST_SENDS_PER_MINUTE (the destinations are unconfirmed: a
    stranger's mailbox or server); beyond it, TooManyTestSends and no Delivery.
    """
    _count_test_send(user)
    deliveries = Delivery.objects.bulk_create(
        Delivery(user=user, channel=channel) for channel in dict.fromkeys(channels)
    )
    enqueue_on_commit([delivery.pk for delivery in deliveries])
    return deliveries


def _count_test_send(user) -> None:
    """Count one test send of `user`; raise TooManyTestSends over the limit.

    A window per clock minute, counted with one atomic Redis INCR (the API
    throttles' counter, common.api_throttling): race-free across web
    processes, at the same accepted cost of up to twice the rate across a
    window boundary.
    """
    now = time.time()
    window = int(now // TEST_SEND_WINDOW_SECONDS)
    counter = f"notifications:test-sends:{user.pk}:{window}"
    if count(cache, counter, TEST_SEND_WINDOW_SECONDS + 1) > (
        settings.NOTIFICATIONS_TEST_SENDS_PER_MINUTE
    ):
        raise TooManyTestSends(max(1, math.ceil((window + 1) * TEST_SEND_WINDOW_SECONDS - now)))


def retry_deliveries(queryset) -> int:
    """Admin "retry": put failed or stuck-pending rows back in the queue now."""
    ids = list(
        queryset.filter(status__in=[DeliveryStatus.FAILED, DeliveryStatus.PENDING]).values_list(
            "pk", flat=True
        )
    )
    Delivery.objects.filter(
        pk__in=ids, status__in=[DeliveryStatus.FAILED, DeliveryStatus.PENDING]
    ).update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=None, digest=None)
    enqueue_on_commit(ids)
    return len(ids)


# --- The sweeper -------------------------------------------------------------------------


@dataclass
class SweepResult:
    requeued: int = 0
    recovered: int = 0
    failed: int = 0


def sweep(now: datetime | None = None) -> SweepResult:
    """Re-enqueue lost work: pending rows nobody picked up, rows of dead workers."""
    now = now or timezone.now()
    result = SweepResult()
    expired = Delivery.objects.lease_expired(now)
    for pk, attempts in expired.values_list("pk", "attempts")[:SWEEP_BATCH]:
        row = Delivery.objects.lease_expired(now).filter(pk=pk)
        if attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
            result.failed += row.update(
                status=DeliveryStatus.FAILED,
                lease_expires_at=None,
                last_error=f"gave up after {attempts} attempts: the worker stopped while sending",
                updated_at=now,
            )
        elif row.update(
            status=DeliveryStatus.PENDING,
            lease_expires_at=None,
            next_attempt_at=now,
            last_error="the worker stopped while sending; retrying",
            updated_at=now,
        ):
            result.recovered += 1
            enqueue(pk)
    cutoff = now - SWEEP_GRACE
    lost = Delivery.objects.filter(status=DeliveryStatus.PENDING, created_at__lt=cutoff).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff)
    )
    lost_ids = list(lost.values_list("pk", flat=True)[:SWEEP_BATCH])
    enqueue_deliveries(lost_ids)
    result.requeued = len(lost_ids)
    if result.requeued + result.recovered:
        metrics.SWEEPER_RECOVERIES.inc(result.requeued + result.recovered)
    return result
