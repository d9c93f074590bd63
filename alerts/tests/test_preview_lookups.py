"""The walk's look-ups of history rows (alerts.preview.RowsAfter) over stored ticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alerts import preview
from alerts.models import Alert
from prices.models import PriceSource, PriceTick

pytestmark = pytest.mark.django_db

START = datetime(2023, 3, 10, tzinfo=UTC)


def test_a_cooldown_ending_past_a_full_chain_of_probes_still_finds_its_row(
    owner, bitcoin, monkeypatch
):
    # A tick every 10 minutes for 10 hours; an hour's cooldown, so each
    # firing is the tick an hour after the one before. A chain of probes is
    # cut at MAX_REPLAYED_FIRINGS rows (3 here): the row after its last one
    # is still there to be found.
    PriceTick.objects.bulk_create(
        PriceTick(
            coin=bitcoin,
            time=START + timedelta(minutes=10 * index),
            price=Decimal(22000 + index),
            source=PriceSource.COINGECKO,
        )
        for index in range(60)
    )
    monkeypatch.setattr(preview, "MAX_REPLAYED_FIRINGS", 3)
    alert = Alert(
        user=owner,
        coin=bitcoin,
        condition="above",
        target=Decimal(21000),
        frequency="every_time",
        cooldown_seconds=3600,
    )
    to = START + timedelta(hours=10)
    bounds = preview.history_bounds(alert, to)
    bounds.pop("has_history")
    rows_after = preview.RowsAfter(alert, bounds)

    found, time = [], START
    for _ in range(5):
        row = rows_after(time, to)
        found.append(row.time if row else None)
        time = row.time + timedelta(hours=1) if row else time

    assert found == [START + timedelta(hours=hours) for hours in range(5)]
