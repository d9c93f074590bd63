"""Test helpers for the price pipeline: quotes built by hand, a recorder for alert batches."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from prices.quotes import MarketQuote
from prices.tests.market_data import candle_rows

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def quote(
    coin: str = "bitcoin",
    price: str = "27000.5",
    at: datetime | None = None,
    seconds: int = 0,
    **extra,
) -> MarketQuote:
    fields = {
        "symbol": coin[:3],
        "name": coin.title(),
        "market_cap": Decimal("500000000000.00"),
        "volume_24h": Decimal("12000000000.00"),
        "change_24h_pct": Decimal("1.2500"),
        "market_cap_rank": 1,
    }
    fields.update(extra)
    return MarketQuote(
        coingecko_id=coin,
        price=Decimal(price),
        last_updated=(at or T0) + timedelta(seconds=seconds),
        **fields,
    )


@pytest.fixture
def alert_batches(monkeypatch) -> list[list[dict]]:
    """Record what the pipeline hands to alerts.tasks.evaluate_alerts.

    The alerts app is another team's; its task body is not under test here and
    must not leave messages on the broker.
    """
    from alerts.tasks import evaluate_alerts

    batches: list[list[dict]] = []
    monkeypatch.setattr(evaluate_alerts, "delay", lambda batch: batches.append(batch))
    return batches


def read_candles(limit: int) -> list[dict]:
    """The first `limit` real one-minute BTC/USD candles (March 2023)."""
    rows = list(itertools.islice(candle_rows(), limit))
    return [
        {
            "time": datetime.fromisoformat(r["open_time"]),
            **{k: Decimal(r[k]) for k in ("open", "high", "low", "close")},
        }
        for r in rows
    ]


def candle_quotes(candles: list[dict], coin: str = "bitcoin") -> list[MarketQuote]:
    """Four ticks per candle (open, high, low, close at :00, :15, :30, :45)."""
    return [
        quote(coin, str(c[field]), at=c["time"], seconds=15 * i)
        for c in candles
        for i, field in enumerate(("open", "high", "low", "close"))
    ]


def store_in_polls(quotes: list[MarketQuote], source, size: int = 500) -> None:
    from prices.ingest import store_quotes

    for i in range(0, len(quotes), size):
        store_quotes(quotes[i : i + size], source)
