"""Fill a coin's history from CoinGecko's market chart, through the normal store path."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from prices.ingest import store_quotes
from prices.models import Coin, PriceSource
from prices.quotes import FeedError, MarketQuote

# CoinGecko picks the granularity from `days`: 1 day gives 5-minute points,
# 2..90 days hourly, more days daily. A longer backfill also fetches the
# last day, so the recent chart is detailed too.
FINE_DAYS = 1
# Free plans allow a few dozen calls a minute, so a backfill of many coins
# meets 429s: wait as long as CoinGecko asks, a few times, within reason.
RATE_LIMIT_WAITS = 3
MAX_WAIT_SECONDS = 120.0


@dataclass
class BackfillReport:
    coin_id: str
    points: int
    stored: int


def backfill_coin(
    client,
    coin_id: str,
    days: int,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[float], None] | None = None,
) -> BackfillReport:
    """Fetch and store `days` of history of one coin; returns what it fetched and stored.

    Raises FeedError when CoinGecko cannot give the chart (after waiting out
    rate limits); nothing of that coin is stored then.
    """

    def chart(chart_days: int) -> list:
        for waits in range(RATE_LIMIT_WAITS + 1):
            try:
                return client.market_chart(coin_id, settings.VS_CURRENCY, chart_days)
            except FeedError as exc:
                wait = exc.retry_after.total_seconds() if exc.retry_after else None
                if wait is None or wait > MAX_WAIT_SECONDS or waits == RATE_LIMIT_WAITS:
                    raise
                if on_wait:
                    on_wait(wait)
                sleep(wait)
        raise AssertionError("unreachable")

    points = chart(days)
    if days > FINE_DAYS:
        points += chart(FINE_DAYS)
    coin = Coin.objects.filter(coingecko_id=coin_id).first()
    quotes = [
        MarketQuote(
            coingecko_id=coin_id,
            symbol=coin.symbol if coin else "",
            name=coin.name if coin else coin_id,
            price=point.price,
            last_updated=point.time,
            market_cap=point.market_cap,
            volume_24h=point.volume,
        )
        for point in points
    ]
    result = store_quotes(quotes, PriceSource.BACKFILL)
    return BackfillReport(coin_id, len(points), result.stored)
