"""Fill a coin's history from CoinGecko's market chart, through the normal store path."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from prices.ingest import store_quotes
from prices.models import Coin, PriceSource
from prices.quotes import MarketQuote

# CoinGecko picks the granularity from `days`: 1 day gives 5-minute points,
# 2..90 days hourly, more days daily. A longer backfill also fetches the
# last day, so the recent chart is detailed too.
FINE_DAYS = 1


@dataclass
class BackfillReport:
    coin_id: str
    points: int
    stored: int


def backfill_coin(client, coin_id: str, days: int) -> BackfillReport:
    """Fetch and store `days` of history of one coin; returns what it fetched and stored."""
    points = client.market_chart(coin_id, settings.VS_CURRENCY, days)
    if days > FINE_DAYS:
        points += client.market_chart(coin_id, settings.VS_CURRENCY, FINE_DAYS)
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
