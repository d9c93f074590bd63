"""When a summary is due: local times across zones and daylight saving, weekdays, catch-up."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from summaries.timing import latest_due, next_after, occurrence_on

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def due(at: time, now: datetime, zone=PARIS, weekdays=False, grace=HOUR, not_before=None):
    return latest_due(at, weekdays, zone, now, grace, not_before)


def test_eight_in_the_morning_is_a_different_instant_in_each_zone():
    day = date(2026, 1, 15)

    assert occurrence_on(day, time(8, 0), PARIS) == utc(2026, 1, 15, 7, 0)
    assert occurrence_on(day, time(8, 0), NEW_YORK) == utc(2026, 1, 15, 13, 0)
    assert occurrence_on(day, time(8, 0), TOKYO) == utc(2026, 1, 14, 23, 0)


def test_the_same_local_time_moves_an_hour_in_utc_when_summer_time_starts():
    assert occurrence_on(date(2026, 3, 28), time(8, 0), PARIS) == utc(2026, 3, 28, 7)
    assert occurrence_on(date(2026, 3, 29), time(8, 0), PARIS) == utc(2026, 3, 29, 6)


def test_a_time_the_clock_skips_comes_when_the_clock_has_jumped_past_it():
    # 02:30 does not exist in Paris on 29 March 2026 (02:00 -> 03:00): 03:30 CEST.
    instant = occurrence_on(date(2026, 3, 29), time(2, 30), PARIS)

    assert instant == utc(2026, 3, 29, 1, 30)
    assert instant.astimezone(PARIS).strftime("%H:%M %Z") == "03:30 CEST"


def test_a_time_the_clock_repeats_counts_once_the_first_time():
    # 02:30 happens twice in Paris on 25 October 2026 (03:00 -> 02:00).
    first = utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    second = utc(2026, 10, 25, 1, 30)  # 02:30 CET

    assert due(time(2, 30), first) == first
    assert due(time(2, 30), second) == first  # the same occurrence, already due
    assert due(time(2, 30), second + HOUR) is None  # past the grace, and no second one


def test_it_is_due_at_its_minute_and_not_a_minute_before():
    eight = utc(2026, 1, 15, 7, 0)  # 08:00 in Paris

    assert due(time(8, 0), eight - timedelta(seconds=1)) is None
    assert due(time(8, 0), eight) == eight


def test_a_missed_minute_is_caught_up_on():
    eight = utc(2026, 1, 15, 7, 0)

    assert due(time(8, 0), eight + timedelta(minutes=1)) == eight
    assert due(time(8, 0), eight + timedelta(minutes=59)) == eight


def test_an_occurrence_older_than_the_grace_is_not_sent():
    eight = utc(2026, 1, 15, 7, 0)

    assert due(time(8, 0), eight + timedelta(minutes=61)) is None
    assert due(time(8, 0), eight + timedelta(minutes=5), grace=timedelta(minutes=4)) is None


def test_a_late_evening_summary_is_caught_up_on_after_midnight():
    # 23:50 in Tokyo on the 15th, caught up on 20 minutes later, on the 16th there.
    ten_to_midnight = utc(2026, 1, 15, 14, 50)

    assert due(time(23, 50), ten_to_midnight + timedelta(minutes=20), zone=TOKYO) == (
        ten_to_midnight
    )


def test_a_schedule_changed_after_its_time_does_not_catch_up_on_it():
    eight = utc(2026, 1, 15, 7, 0)

    assert (
        due(time(8, 0), eight + timedelta(minutes=5), not_before=eight + timedelta(minutes=1))
        is None
    )
    assert due(time(8, 0), eight + timedelta(minutes=5), not_before=eight) == eight


def test_weekdays_skip_saturday_and_sunday_in_the_users_zone():
    saturday = utc(2026, 1, 17, 7, 0)  # 08:00 Saturday in Paris
    monday = utc(2026, 1, 19, 7, 0)

    assert due(time(8, 0), saturday, weekdays=True) is None
    assert due(time(8, 0), saturday) == saturday
    assert due(time(8, 0), monday, weekdays=True) == monday


def test_the_weekday_is_the_users_not_utcs():
    # 08:00 Monday in Tokyo is 23:00 Sunday in UTC.
    monday_in_tokyo = utc(2026, 1, 18, 23, 0)

    assert due(time(8, 0), monday_in_tokyo, zone=TOKYO, weekdays=True) == monday_in_tokyo


def test_the_next_occurrence_after_friday_is_monday_on_weekdays():
    friday_noon = utc(2026, 1, 16, 11, 0)

    assert next_after(time(8, 0), True, PARIS, friday_noon) == utc(2026, 1, 19, 7, 0)
    assert next_after(time(8, 0), False, PARIS, friday_noon) == utc(2026, 1, 17, 7, 0)


def test_the_next_occurrence_follows_the_change_to_summer_time():
    saturday_noon = utc(2026, 3, 28, 11, 0)

    assert next_after(time(8, 0), False, PARIS, saturday_noon) == utc(2026, 3, 29, 6, 0)
