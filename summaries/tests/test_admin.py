"""The admin of schedules (staff may change them, as the owner would) and of what was sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from summaries.models import SummaryOccurrence, SummarySchedule
from summaries.sending import send_due_summaries

pytestmark = pytest.mark.django_db


def test_it_lists_schedules_and_their_occurrences(admin_client, make_schedule):
    schedule = make_schedule()
    send_due_summaries(datetime(2026, 1, 19, 8, 0, tzinfo=UTC))  # 08:00 in UTC, the default
    occurrence = SummaryOccurrence.objects.get()

    for url in (
        "/admin/summaries/summaryschedule/",
        f"/admin/summaries/summaryschedule/{schedule.pk}/change/",
        "/admin/summaries/summaryoccurrence/",
        f"/admin/summaries/summaryoccurrence/{occurrence.pk}/change/",
    ):
        assert admin_client.get(url).status_code == 200, url


def test_a_change_in_the_admin_never_sends_a_time_already_past(admin_client, make_schedule):
    schedule = make_schedule()

    response = admin_client.post(
        f"/admin/summaries/summaryschedule/{schedule.pk}/change/",
        {
            "user": schedule.user_id,
            "time_of_day": "09:30",
            "days": "daily",
            "channels": '["email"]',
            "enabled": "on",
        },
    )

    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.time_of_day.strftime("%H:%M") == "09:30"
    assert schedule.due_from > datetime(2026, 1, 1, tzinfo=UTC)


def test_nobody_adds_an_occurrence_by_hand(admin_client):
    assert admin_client.get("/admin/summaries/summaryoccurrence/add/").status_code == 403
    assert not SummarySchedule.objects.exists()
