"""What a price source hands to the ingest pipeline, whatever the source."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class MarketQuote:
    """One validated price of one coin, as the source reported it."""

    coingecko_id: str
    symbol: str
    name: str
    price: Decimal
    last_updated: datetime  # aware, UTC: CoinGecko's `last_updated`
    image_url: str = ""
    market_cap_rank: int | None = None
    market_cap: Decimal | None = None
    volume_24h: Decimal | None = None
    change_24h_pct: Decimal | None = None


@dataclass(frozen=True)
class Rejection:
    """A coin the source returned but that failed validation, and why."""

    coingecko_id: str
    reason: str


@dataclass
class FetchResult:
    quotes: list[MarketQuote] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # Set when part of the fetch failed (a page of many): the quotes are the
    # coins that were read, and the feed is not healthy for the others.
    failure: FeedError | None = None


class FeedError(Exception):
    """The source could not be read this time (HTTP error, timeout, bad body).

    `retry_after` is how long the source asked us to wait (429 Retry-After),
    or None to let the caller pick its own backoff.
    """

    def __init__(self, message: str, *, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
