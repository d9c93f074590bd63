"""Sending due summaries: find them, claim each occurrence once, write its deliveries.

Beat runs `send_due_summaries` every minute. Each enabled schedule whose
latest occurrence is due (timing.latest_due: within the catch-up window,
not before the schedule was last changed) and not yet claimed is claimed
by inserting its SummaryOccurrence; the inserter alone writes the
deliveries, in the same transaction, through the outbox, so the summary
is sent exactly as an alert's notifications are (retries, leases, the
sweeper). Two runs at once (two beats, a slow run overlapping the next)
split the work: the unique (schedule, scheduled_for) makes each occurrence
one worker's.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from notifications.outbox import record_summary_deliveries
from summaries import metrics
from summaries.content import summary_content
from summaries.models import SummaryOccurrence, SummarySchedule

logger = logging.getLogger(__name__)


def due_summaries(now: datetime) -> list[tuple[SummarySchedule, datetime]]:
    """Each schedule with an occurrence to send now, not claimed yet, and its time.

    Two queries whatever the number of schedules: the enabled ones of
    active users (with their time zones), and the claims among the due.
    """
    schedules = SummarySchedule.objects.filter(enabled=True, user__is_active=True).select_related(
        "user__profile"
    )
    due = [(schedule, at) for schedule in schedules if (at := schedule.latest_due(now))]
    if not due:
        return []
    # A superset of the claims (any due schedule at any due time), on the
    # unique index; the exact pairs are picked here.
    taken = set(
        SummaryOccurrence.objects.filter(
            schedule_id__in=[schedule.pk for schedule, _ in due],
            scheduled_for__in={at for _, at in due},
        ).values_list("schedule_id", "scheduled_for")
    )
    return [(schedule, at) for schedule, at in due if (schedule.pk, at) not in taken]


def claim(schedule: SummarySchedule, scheduled_for: datetime) -> SummaryOccurrence | None:
    """Claim one occurrence and write its deliveries; None if someone else has it.

    The content is read before the transaction, so the claim holds its row
    lock only for two INSERTs.
    """
    content = summary_content(schedule, scheduled_for)
    with transaction.atomic():
        occurrence = SummaryOccurrence.objects.claim(schedule, scheduled_for, content)
        if occurrence is None:
            return None
        record_summary_deliveries(occurrence, schedule.channels)
    metrics.record_claim(occurrence)
    return occurrence


def send_due_summaries(now: datetime | None = None) -> int:
    """Claim every due summary; return how many this call claimed.

    One schedule failing (a database error, a bug in its content) is
    logged and left for the next minute, within its catch-up window; the
    others still go.
    """
    now = now or timezone.now()
    sent = 0
    for schedule, at in due_summaries(now):
        try:
            occurrence = claim(schedule, at)
        except Exception:  # one bad schedule must not stop the others
            logger.exception("Summary of schedule %s for %s failed", schedule.pk, at.isoformat())
            continue
        if occurrence is not None:
            sent += 1
            logger.info(
                "Summary %s of schedule %s claimed",
                occurrence.pk,
                schedule.pk,
                extra={"summary_id": occurrence.pk, "schedule_id": schedule.pk},
            )
    return sent
