"""Helpers of the tests of alerts in a currency: rates and an event in euros."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from alerts.models import Alert, AlertEvent
from prices.models import ExchangeRate, PriceSource


def set_rate(
    currency: str,
    factor: str = "0.9",
    age: timedelta = timedelta(0),
    fetched_at: datetime | None = None,
) -> ExchangeRate:
    """The rate from USD to `currency`, fetched `age` ago (or at `fetched_at`)."""
    return ExchangeRate.objects.update_or_create(
        currency=currency,
        defaults={
            "base": "usd",
            "rate": Decimal(factor),
            "fetched_at": fetched_at or timezone.now() - age,
            "source": PriceSource.COINGECKO,
        },
    )[0]


def euro_event(alert: Alert) -> AlertEvent:
    """A firing of a EUR alert at 27,090 EUR, converted at 0.9 (30,100 USD)."""
    return AlertEvent.objects.create(
        alert=alert,
        coin=alert.coin,
        price=Decimal("27090"),
        currency="eur",
        exchange_rate=Decimal("0.9"),
        reason="Price crossed up through 27000 EUR.",
        triggered_at=timezone.now(),
    )
