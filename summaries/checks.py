"""System checks: the catch-up window of scheduled summaries is within a day."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

# timing.latest_due looks back two days at most; a catch-up of a day or more
# would also send yesterday's summary after an outage, a day late.
MAX_CATCH_UP_MINUTES = 12 * 60


def catch_up_window_sane(app_configs, **kwargs) -> list[checks.CheckMessage]:
    minutes = settings.SUMMARIES_CATCH_UP_MINUTES
    if 1 <= minutes <= MAX_CATCH_UP_MINUTES:
        return []
    return [
        checks.Error(
            f"SUMMARIES_CATCH_UP_MINUTES is {minutes}; it must be from 1 to "
            f"{MAX_CATCH_UP_MINUTES} (12 hours).",
            hint="How late a summary may still go out after beat or the worker stopped "
            "(docs/summaries.md).",
            id="summaries.E001",
        )
    ]
