"""Coins with recent prices for the page tests, stored the way a poll stores them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from prices.exchange_rates import store_rates
from prices.ingest import store_quotes
from prices.models import Coin, PriceSource
from prices.tests.pipeline import quote


def priced_coin(
    coingecko_id: str = "bitcoin",
    prices: tuple[str, ...] = ("27000", "27500"),
    change: str = "1.2500",
    source: PriceSource = PriceSource.COINGECKO,
    **extra,
) -> Coin:
    """A tracked coin whose prices were polled over the last hour, the last one now."""
    now = timezone.now()
    step = timedelta(hours=1) / max(len(prices), 1)
    store_quotes(
        [
            quote(
                coingecko_id,
                price,
                at=now - step * (len(prices) - 1 - i),
                change_24h_pct=Decimal(change),
                **extra,
            )
            for i, price in enumerate(prices)
        ],
        source,
    )
    return Coin.objects.get(coingecko_id=coingecko_id)


def catalogue_coin(coingecko_id: str, symbol: str, name: str, rank: int | None = None) -> Coin:
    """A coin known from the catalogue but not tracked, with no price."""
    return Coin.objects.create(
        coingecko_id=coingecko_id, symbol=symbol, name=name, market_cap_rank=rank
    )


def rates_fetched(age: timedelta = timedelta(0), **factors: str) -> None:
    """Exchange rates from the base (units per unit of it), fetched `age` ago."""
    rates = {code: Decimal(factor) for code, factor in factors.items()}
    store_rates(rates, PriceSource.COINGECKO, timezone.now() - age)
