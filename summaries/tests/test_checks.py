"""The catch-up window is checked at start: from a minute to 12 hours."""

from __future__ import annotations

import pytest

from summaries.checks import catch_up_window_sane


@pytest.mark.parametrize("minutes", [1, 60, 720])
def test_a_window_within_half_a_day_passes(settings, minutes):
    settings.SUMMARIES_CATCH_UP_MINUTES = minutes

    assert catch_up_window_sane(None) == []


@pytest.mark.parametrize("minutes", [0, -5, 721, 1440])
def test_none_or_a_day_of_catch_up_stops_the_start(settings, minutes):
    settings.SUMMARIES_CATCH_UP_MINUTES = minutes

    [error] = catch_up_window_sane(None)

    assert error.id == "summaries.E001"
    assert str(minutes) in error.msg
