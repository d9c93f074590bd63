"""Fixtures of the summaries tests: a user's watchlist, alerts and schedules.

The real servers the channel tests send to (SMTP, an HTTP receiver, a Web
Push service, Celery workers) and the admin's client are the notification
tests' own.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Profile
from alerts.models import Alert
from notifications.tests.conftest import (  # noqa: F401 (fixtures)
    forget_vapid_key,
    private_celery_queue,
    push_service,
    receiver,
    smtp,
    workers,
)
from notifications.tests.test_admin import admin_client  # noqa: F401 (fixture)
from prices.models import Coin, WatchlistEntry
from summaries.models import SummarySchedule

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def tracked_coin(coingecko_id: str, symbol: str, price: str, change: str) -> Coin:
    return Coin.objects.create(
        coingecko_id=coingecko_id,
        symbol=symbol,
        name=coingecko_id.capitalize(),
        is_tracked=True,
        price=Decimal(price),
        change_24h_pct=Decimal(change),
        price_updated_at=timezone.now(),
    )


@pytest.fixture
def bitcoin(db) -> Coin:
    return tracked_coin("bitcoin", "btc", "70250.5", "1.25")


@pytest.fixture
def ether(db) -> Coin:
    return tracked_coin("ethereum", "eth", "3512", "-0.4")


@pytest.fixture
def watching(owner, bitcoin, ether) -> list[Coin]:
    """The owner watches bitcoin, then ether, and has an alert 75000 on bitcoin."""
    for coin in (bitcoin, ether):
        WatchlistEntry.objects.create(user=owner, coin=coin)
    Alert.objects.create(user=owner, coin=bitcoin, condition="above", target=Decimal("75000"))
    return [bitcoin, ether]


def in_zone(user, name: str) -> None:
    profile = Profile.for_user(user)
    profile.time_zone = name
    profile.save()


@pytest.fixture
def make_schedule(owner):
    """A schedule of the owner's, due from long ago (no edit holds back its catch-up)."""

    def make(at: time = time(8, 0), **fields) -> SummarySchedule:
        fields.setdefault("user", owner)
        fields.setdefault("channels", ["in_app"])
        fields.setdefault("due_from", LONG_AGO)
        return SummarySchedule.objects.create(time_of_day=at, **fields)

    return make
