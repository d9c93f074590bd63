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
import random
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

    Three queries whatever the number of schedules: which are due, which
    of those are claimed already, and the rest with their owners. In a
    random order, so runs that overlap (a long one and the next minute's)
    mostly claim different schedules rather than queue behind each other.
    """
    due = SummarySchedule.objects.due(now)
    if not due:
        return []
    # A superset of the claims (any due schedule at any due time), on the
    # unique index; the exact pairs are picked here.
    taken = set(
        SummaryOccurrence.objects.filter(
            schedule_id__in=list(due), scheduled_for__in=set(due.values())
        ).values_list("schedule_id", "scheduled_for")
    )
    wanted = [pk for pk, at in due.items() if (pk, at) not in taken]
    schedules = list(SummarySchedule.objects.filter(pk__in=wanted).select_related("user__profile"))
    random.shuffle(schedules)
    return [(schedule, due[schedule.pk]) for schedule in schedules]


def claim(schedule: SummarySchedule, scheduled_for: datetime) -> SummaryOccurrence | None:
    """Claim one occurrence, then write its content and deliveries; None if someone else has it.

    The claim comes first, so a worker that loses it waits for the winner's
    commit instead of reading a summary it will not send.
    """
    with transaction.atomic():
        occurrence = SummaryOccurrence.objects.claim(schedule, scheduled_for)
        if occurrence is None:
            return None
        occurrence.content = summary_content(schedule, scheduled_for)
        occurrence.save(update_fields=["content"])
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
