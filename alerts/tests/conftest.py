"""Fixtures of the alerts tests: a tracked coin, alerts, ticks and batches."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.evaluation import evaluate_batch
from alerts.models import PRICE_CONDITIONS, Alert, AlertEvent, Condition
from prices.models import Coin, PriceSource, PriceTick


@pytest.fixture
def bitcoin(db) -> Coin:
    return Coin.objects.create(
        coingecko_id="bitcoin",
        symbol="btc",
        name="Bitcoin",
        is_tracked=True,
        price=Decimal("30000"),
        price_updated_at=timezone.now(),
    )


@pytest.fixture
def make_alert(owner, bitcoin):
    """Create an alert straight in the database (validation has its own tests)."""

    def make(condition: str = Condition.ABOVE, **fields) -> Alert:
        fields.setdefault("user", owner)
        fields.setdefault("coin", bitcoin)
        if condition in {"pct_up", "pct_down", "pct_move"}:
            fields.setdefault("percent", Decimal("5"))
            fields.setdefault("window", "1h")
        elif condition in PRICE_CONDITIONS:
            fields.setdefault("target", Decimal("30000"))
        return Alert.objects.create(condition=condition, **fields)

    return make


class Feed:
    """Stores ticks of one coin like the pipeline and evaluates each as a batch."""

    def __init__(self, coin: Coin, start: datetime) -> None:
        self.coin = coin
        self.time = start
        self.previous: Decimal | None = None
        self.figures: dict[str, str] = {}

    def tick(
        self, price: str | Decimal, after: timedelta = timedelta(seconds=10), **figures: str
    ) -> list:
        """Evaluate a tick at `price`; `figures` are market ones (market_cap="1e12", ...).

        Each figure's previous value is the one the last tick gave it, as
        prices.ingest sends them.
        """
        self.time += after
        price = Decimal(price)
        tick = PriceTick.objects.create(
            coin=self.coin, time=self.time, price=price, source=PriceSource.COINGECKO
        )
        batch = [
            {
                "coin_id": self.coin.pk,
                "tick_id": tick.pk,
                "price": str(price),
                "previous_price": None if self.previous is None else str(self.previous),
                "time": self.time.isoformat(),
                **figures,
                **{f"previous_{name}": value for name, value in self.figures.items()},
            }
        ]
        self.previous = price
        self.figures = figures
        return evaluate_batch(batch, now=self.time)


@pytest.fixture
def feed(bitcoin) -> Feed:
    return Feed(bitcoin, timezone.now().replace(microsecond=0) - timedelta(days=2))


def fired_ids(events: list[AlertEvent]) -> set[int]:
    return {event.alert_id for event in events}
