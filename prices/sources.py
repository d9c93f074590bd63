"""Where polled prices come from: CoinGecko, or a seeded random walk offline.

Both hand the pipeline a FetchResult; `current_source()` picks one from
PRICE_SOURCE. The simulated source exists so `make run` shows moving prices
without internet; every row it writes is marked `simulated`.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from prices.coingecko import CoinGeckoClient
from prices.models import Coin, PriceSource
from prices.quotes import FetchResult, MarketQuote


class Source(Protocol):
    price_source: PriceSource

    def fetch(self, coin_ids: list[str]) -> FetchResult: ...

    def exchange_rates(self) -> dict[str, Decimal]:
        """Units of each currency per 1 BTC, by code (CoinGecko's /exchange_rates)."""
        ...


def tracked_coin_ids() -> list[str]:
    """TRACKED_COINS first, then any coin marked tracked in the database (admin)."""
    ids = list(dict.fromkeys(settings.TRACKED_COINS))
    extra = Coin.objects.filter(is_tracked=True).exclude(coingecko_id__in=ids)
    return ids + list(extra.order_by("coingecko_id").values_list("coingecko_id", flat=True))


class CoinGeckoSource:
    """One /coins/markets request per 250 coins, through the CoinGecko client."""

    price_source = PriceSource.COINGECKO

    def fetch(self, coin_ids: list[str]) -> FetchResult:
        with CoinGeckoClient.from_settings() as client:
            return client.fetch_markets(coin_ids, settings.VS_CURRENCY)

    def exchange_rates(self) -> dict[str, Decimal]:
        with CoinGeckoClient.from_settings() as client:
            return client.exchange_rates()


# Where a simulated coin starts when it has no stored price: USD prices of
# early March 2023, the same period as the real candles in prices/tests/data.
# (symbol, name, price)
STARTING_PRICES: dict[str, tuple[str, str, str]] = {
    "bitcoin": ("btc", "Bitcoin", "23147.31"),
    "ethereum": ("eth", "Ethereum", "1647.12"),
    "cardano": ("ada", "Cardano", "0.3312"),
    "solana": ("sol", "Solana", "21.45"),
    "polkadot": ("dot", "Polkadot", "6.13"),
    "avalanche-2": ("avax", "Avalanche", "16.74"),
    "chainlink": ("link", "Chainlink", "6.92"),
    "polygon-ecosystem-token": ("pol", "POL (ex-MATIC)", "1.182"),
    "uniswap": ("uni", "Uniswap", "6.01"),
    "cosmos": ("atom", "Cosmos Hub", "12.05"),
}
UNKNOWN_START = ("", "", "1.00")
# Units of each fiat currency per 1 USD in early March 2023, like the prices
# above: the simulated feed's exchange rates, so `make run` converts offline.
FIAT_PER_USD = {
    "usd": Decimal("1"),
    "eur": Decimal("0.9432"),
    "gbp": Decimal("0.8345"),
    "jpy": Decimal("136.21"),
    "chf": Decimal("0.9385"),
    "cad": Decimal("1.3642"),
    "aud": Decimal("1.4876"),
    "cny": Decimal("6.9170"),
    "inr": Decimal("82.02"),
}
# Standard deviation of one step of the walk (0.2 %: about what BTC moves in 10 s
# on a lively day, so charts visibly move).
STEP_VOLATILITY = 0.002
SIGNIFICANT_DIGITS = 8


class SimulatedSource:
    """A geometric random walk from each coin's last stored price.

    Each step is drawn from a generator seeded with (PRICE_SIMULATION_SEED,
    coin, time), so a seed and a clock give the same prices every time.
    """

    price_source = PriceSource.SIMULATED

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def fetch(self, coin_ids: list[str]) -> FetchResult:
        now = self.now or timezone.now()
        stored = {c.coingecko_id: c for c in Coin.objects.filter(coingecko_id__in=coin_ids)}
        return FetchResult(quotes=[self._step(cid, stored.get(cid), now) for cid in coin_ids])

    def exchange_rates(self) -> dict[str, Decimal]:
        """Units per 1 BTC from the simulated bitcoin and ether prices and FIAT_PER_USD.

        Simulated prices are in VS_CURRENCY whatever it is, so bitcoin's is
        what one BTC is worth in the base; fiat follows from the table when
        the base is in it.
        """
        base = settings.VS_CURRENCY
        stored = dict(
            Coin.objects.filter(coingecko_id__in=("bitcoin", "ethereum"), price__gt=0).values_list(
                "coingecko_id", "price"
            )
        )
        btc = stored.get("bitcoin") or Decimal(STARTING_PRICES["bitcoin"][2])
        eth = stored.get("ethereum") or Decimal(STARTING_PRICES["ethereum"][2])
        rates = {base: btc, "btc": Decimal(1), "eth": btc / eth}
        if base in FIAT_PER_USD:
            per_base = {code: value / FIAT_PER_USD[base] for code, value in FIAT_PER_USD.items()}
            rates.update({code: btc * factor for code, factor in per_base.items()})
        return rates

    def _step(self, coin_id: str, coin: Coin | None, now: datetime) -> MarketQuote:
        symbol, name, start = STARTING_PRICES.get(coin_id, UNKNOWN_START)
        previous = coin.price if coin and coin.price else Decimal(start)
        rng = random.Random(_seed(settings.PRICE_SIMULATION_SEED, coin_id, now))  # noqa: S311
        price = _significant(previous * Decimal(math.exp(rng.gauss(0, STEP_VOLATILITY))))
        return MarketQuote(
            coingecko_id=coin_id,
            symbol=(coin.symbol if coin else symbol) or coin_id[:10],
            name=(coin.name if coin else name) or coin_id,
            price=price,
            last_updated=now,
            market_cap_rank=coin.market_cap_rank if coin else None,
        )


def _seed(seed: int, coin_id: str, now: datetime) -> int:
    digest = hashlib.sha256(f"{seed}:{coin_id}:{now.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _significant(value: Decimal) -> Decimal:
    exponent = value.adjusted() - SIGNIFICANT_DIGITS + 1
    return value.quantize(Decimal(1).scaleb(exponent))


def current_source() -> Source:
    if settings.PRICE_SOURCE == PriceSource.SIMULATED:
        return SimulatedSource()
    return CoinGeckoSource()
