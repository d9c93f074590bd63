"""Two workers claiming the same summary at once: one occurrence, one set of deliveries.

Real threads, each on its own PostgreSQL connection; a barrier makes both
find the summary due and unclaimed before either claims it, and the first
to insert holds its transaction open a moment, so the other's INSERT meets
its uncommitted row.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from datetime import time as time_of_day

import pytest
from django.db import connection

from notifications.models import Delivery
from summaries import sending
from summaries.models import SummaryOccurrence, SummarySchedule
from summaries.tests.conftest import in_zone
from tests_support.cap_races import race

pytestmark = pytest.mark.django_db(transaction=True)

EIGHT_IN_PARIS = datetime(2026, 1, 19, 7, 0, tzinfo=UTC)


def test_two_workers_at_once_send_one_summary(owner, make_schedule, watching, monkeypatch):
    in_zone(owner, "Europe/Paris")
    make_schedule(channels=["email", "in_app", "webhook"])
    both_checked = threading.Barrier(2, timeout=10)
    find, record = sending.due_summaries, sending.record_summary_deliveries

    def found_once_both_checked(*args):
        found = find(*args)
        both_checked.wait()
        return found

    def record_slowly(*args):
        written = record(*args)
        time.sleep(0.3)  # still uncommitted: the other INSERT waits for us
        return written

    monkeypatch.setattr(sending, "due_summaries", found_once_both_checked)
    monkeypatch.setattr(sending, "record_summary_deliveries", record_slowly)
    claimed: list[int] = []

    def worker() -> None:
        try:
            claimed.append(sending.send_due_summaries(EIGHT_IN_PARIS))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(claimed) == [0, 1]
    occurrence = SummaryOccurrence.objects.get()
    assert sorted(Delivery.objects.values_list("summary_id", "channel")) == [
        (occurrence.pk, "email"),
        (occurrence.pk, "in_app"),
        (occurrence.pk, "webhook"),
    ]


def test_two_schedules_created_at_once_at_the_cap_let_only_one_in(owner, settings):
    settings.SUMMARIES_MAX_PER_USER = 1

    def create() -> None:
        schedule = SummarySchedule(user=owner, time_of_day=time_of_day(8, 0), channels=["in_app"])
        schedule.full_clean()
        schedule.save_edit()

    assert race(create, create) == ["You already have 1 summaries, the most allowed.", "saved"]
    assert SummarySchedule.objects.filter(user=owner).count() == 1
