"""When a summary is due: a local time of day on chosen days, in a user's zone.

Pure functions of zoneinfo, so daylight saving time is the zone's own: a
local time the clock skips (02:30 when 02:00 jumps to 03:00) comes that
much later (03:30, the instant "02:30 before the jump" names), and a local
time the clock repeats (02:30 twice when 03:00 falls back to 02:00) counts
once, the first. Each local day has exactly one instant, so a day never
gets two summaries from one schedule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Monday is 0: weekdays are Monday to Friday in the user's zone.
FRIDAY = 4
# A catch-up never reaches back a day; this also bounds the search below.
DAYS_LOOKED_BACK = 2
DAYS_LOOKED_AHEAD = 8


@cache
def zone_named(name: str) -> ZoneInfo:
    """The zone called `name`; UTC for a blank or unknown name (as the pages show)."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def occurrence_on(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant (UTC) of local time `at` on local `day` in `zone`.

    fold=0: before the transition's offset. A skipped time lands after the
    jump by the gap; a repeated time is its first instant.
    """
    local = datetime.combine(day, at.replace(second=0, microsecond=0, tzinfo=zone, fold=0))
    return local.astimezone(UTC)


def runs_on(day: date, weekdays_only: bool) -> bool:
    return not weekdays_only or day.weekday() <= FRIDAY


def latest_due(
    at: time,
    weekdays_only: bool,
    zone: ZoneInfo,
    now: datetime,
    grace: timedelta,
    not_before: datetime | None = None,
) -> datetime | None:
    """The most recent occurrence at or before `now`, if it is still worth sending.

    It is, unless older than `grace` (a summary hours late is noise) or
    before `not_before` (a schedule created or changed after that time
    does not catch up on it). A missed minute is thus caught up on, and
    only the latest occurrence ever is: never one per missed day.
    """
    today = now.astimezone(zone).date()
    for back in range(DAYS_LOOKED_BACK + 1):
        day = today - timedelta(days=back)
        if not runs_on(day, weekdays_only):
            continue
        instant = occurrence_on(day, at, zone)
        if instant > now:
            continue
        oldest = now - grace
        if not_before is not None:
            oldest = max(oldest, not_before)
        return instant if instant >= oldest else None
    return None


def next_after(at: time, weekdays_only: bool, zone: ZoneInfo, now: datetime) -> datetime:
    """The first occurrence after `now` (shown on the pages and in the API)."""
    today = now.astimezone(zone).date()
    for ahead in range(DAYS_LOOKED_AHEAD):
        day = today + timedelta(days=ahead)
        instant = occurrence_on(day, at, zone)
        if runs_on(day, weekdays_only) and instant > now:
            return instant
    raise AssertionError("a week always holds a weekday")  # pragma: no cover
