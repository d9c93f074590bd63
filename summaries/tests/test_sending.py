"""Due summaries are claimed once per scheduled time and sent through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifications.models import Delivery, DeliveryKind, DeliveryStatus
from prices.tests.metric_values import metric_value
from summaries.models import SummaryOccurrence
from summaries.sending import send_due_summaries
from summaries.tests.conftest import in_zone

pytestmark = pytest.mark.django_db

# 08:00 in Paris on Monday 19 January 2026.
EIGHT_IN_PARIS = datetime(2026, 1, 19, 7, 0, tzinfo=UTC)


@pytest.fixture
def paris(owner):
    in_zone(owner, "Europe/Paris")


def test_a_due_summary_gets_one_delivery_per_channel(paris, owner, make_schedule, watching):
    schedule = make_schedule(channels=["email", "in_app", "webhook"])

    assert send_due_summaries(EIGHT_IN_PARIS) == 1

    occurrence = SummaryOccurrence.objects.get()
    assert (occurrence.schedule, occurrence.scheduled_for) == (schedule, EIGHT_IN_PARIS)
    deliveries = Delivery.objects.filter(summary=occurrence).order_by("pk")
    assert [d.channel for d in deliveries] == ["email", "in_app", "webhook"]
    assert {(d.user_id, d.status, d.kind) for d in deliveries} == {
        (owner.pk, DeliveryStatus.PENDING, DeliveryKind.SUMMARY)
    }


def test_a_summary_delivery_is_not_a_test_notification(paris, make_schedule):
    make_schedule()

    send_due_summaries(EIGHT_IN_PARIS)

    delivery = Delivery.objects.get()
    assert not delivery.is_test
    assert not Delivery.objects.tests().exists()


def test_it_is_not_due_a_minute_early_in_the_users_zone(paris, make_schedule):
    make_schedule()

    assert send_due_summaries(EIGHT_IN_PARIS - timedelta(minutes=1)) == 0
    assert not SummaryOccurrence.objects.exists()


def test_the_next_minutes_runs_send_nothing_more(paris, make_schedule):
    make_schedule(channels=["email", "in_app"])

    send_due_summaries(EIGHT_IN_PARIS)
    for minutes in range(1, 5):
        assert send_due_summaries(EIGHT_IN_PARIS + timedelta(minutes=minutes)) == 0

    assert SummaryOccurrence.objects.count() == 1
    assert Delivery.objects.count() == 2


def test_a_missed_minute_is_caught_up_on_for_the_time_it_was_due(paris, make_schedule):
    make_schedule()

    assert send_due_summaries(EIGHT_IN_PARIS + timedelta(minutes=7)) == 1

    assert SummaryOccurrence.objects.get().scheduled_for == EIGHT_IN_PARIS


def test_a_summary_later_than_the_catch_up_window_is_not_sent(paris, make_schedule, settings):
    settings.SUMMARIES_CATCH_UP_MINUTES = 30
    make_schedule()

    assert send_due_summaries(EIGHT_IN_PARIS + timedelta(minutes=31)) == 0


def test_the_next_day_brings_the_next_summary(paris, make_schedule):
    make_schedule()

    send_due_summaries(EIGHT_IN_PARIS)
    send_due_summaries(EIGHT_IN_PARIS + timedelta(days=1))

    assert list(SummaryOccurrence.objects.values_list("scheduled_for", flat=True)) == [
        EIGHT_IN_PARIS + timedelta(days=1),
        EIGHT_IN_PARIS,
    ]


def test_each_user_gets_it_at_their_own_eight(paris, owner, stranger, make_schedule):
    in_zone(stranger, "America/New_York")
    make_schedule()
    make_schedule(user=stranger)

    assert send_due_summaries(EIGHT_IN_PARIS) == 1
    assert send_due_summaries(datetime(2026, 1, 19, 13, 0, tzinfo=UTC)) == 1

    assert sorted(SummaryOccurrence.objects.values_list("schedule__user__username", flat=True)) == [
        "alice",
        "mallory",
    ]


def test_a_weekday_summary_skips_the_weekend(paris, make_schedule):
    make_schedule(days="weekdays")
    saturday = EIGHT_IN_PARIS - timedelta(days=2)

    assert send_due_summaries(saturday) == 0
    assert send_due_summaries(EIGHT_IN_PARIS) == 1


def test_a_disabled_schedule_sends_nothing(paris, make_schedule):
    make_schedule(enabled=False)

    assert send_due_summaries(EIGHT_IN_PARIS) == 0


def test_a_deactivated_account_gets_no_summary(paris, owner, make_schedule):
    make_schedule()
    owner.is_active = False
    owner.save()

    assert send_due_summaries(EIGHT_IN_PARIS) == 0


def test_a_schedule_saved_after_its_time_waits_for_the_next_day(paris, make_schedule):
    schedule = make_schedule(due_from=EIGHT_IN_PARIS + timedelta(minutes=3))

    assert send_due_summaries(EIGHT_IN_PARIS + timedelta(minutes=5)) == 0
    assert send_due_summaries(EIGHT_IN_PARIS + timedelta(days=1)) == 1
    assert schedule.occurrences.get().scheduled_for == EIGHT_IN_PARIS + timedelta(days=1)


def test_one_failing_schedule_does_not_stop_the_others(
    paris, owner, stranger, make_schedule, monkeypatch
):
    in_zone(stranger, "Europe/Paris")
    broken = make_schedule()
    make_schedule(user=stranger)
    real = SummaryOccurrence.objects.claim

    def claim(schedule, *args):
        if schedule.pk == broken.pk:
            raise RuntimeError("boom")
        return real(schedule, *args)

    monkeypatch.setattr(SummaryOccurrence.objects, "claim", claim)

    assert send_due_summaries(EIGHT_IN_PARIS) == 1
    assert SummaryOccurrence.objects.get().schedule.user == stranger


def test_the_summary_is_sent_at_eight_on_the_day_summer_time_starts(owner, make_schedule):
    in_zone(owner, "Europe/Paris")
    make_schedule()
    # 29 March 2026: Paris moves to UTC+2; 08:00 is 06:00 UTC, not 07:00.
    assert send_due_summaries(datetime(2026, 3, 29, 6, 0, tzinfo=UTC)) == 1
    assert send_due_summaries(datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == 0


def test_a_claim_is_counted_with_how_late_it_came(paris, make_schedule):
    make_schedule()
    before = (
        metric_value("cryptomonitor_summaries_claimed_total", {}),
        metric_value("cryptomonitor_summary_lateness_seconds_sum", {}),
    )

    send_due_summaries(EIGHT_IN_PARIS + timedelta(minutes=2))

    assert metric_value("cryptomonitor_summaries_claimed_total", {}) == before[0] + 1
    # Claimed now (the database's clock), for a time in January 2026.
    lateness = metric_value("cryptomonitor_summary_lateness_seconds_sum", {}) - before[1]
    claimed_at = SummaryOccurrence.objects.get().created_at
    assert lateness == pytest.approx((claimed_at - EIGHT_IN_PARIS).total_seconds())
