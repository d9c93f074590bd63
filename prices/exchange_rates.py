"""Fetch the exchange rates and keep the latest one per display currency.

Beat runs `refresh_exchange_rates()` every EXCHANGE_RATES_SECONDS (5 minutes
by default): one /exchange_rates request converts into every currency, where
asking /coins/markets in each would multiply every poll's requests
(docs/currencies.md). CoinGecko quotes each currency per 1 BTC; the rate
from the base to a currency is their quotient, a cross rate through bitcoin.
A failed fetch changes nothing: the rows it would have replaced grow old
until prices.currencies stops using them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal

from django.utils import timezone

from common.display_currencies import base_currency, display_currencies
from prices.models import RATE_DIGITS, ExchangeRate, FeedState, PriceSource
from prices.quotes import FeedError
from prices.sources import Source, current_source

logger = logging.getLogger(__name__)

RATE_QUANTUM = Decimal(1).scaleb(-RATE_DIGITS["decimal_places"])
# Enough digits for the quotient of two of CoinGecko's numbers before it is
# rounded once, to RATE_QUANTUM.
_DIVISION = Context(prec=40)


@dataclass
class RatesReport:
    stored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # display currencies CoinGecko left out
    skipped: str = ""
    error: str = ""

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        if self.error:
            return f"exchange rates not fetched: {self.error}"
        missing = f"; no rate for {', '.join(self.missing)}" if self.missing else ""
        return f"stored {len(self.stored)} exchange rates ({', '.join(self.stored)}){missing}"


def refresh_exchange_rates(
    source: Source | None = None, now: datetime | None = None
) -> RatesReport:
    """Fetch the rates once and store one per display currency; never raise for the feed."""
    state = FeedState.current()
    if state.is_backing_off(now):
        # CoinGecko asked the poller to wait: every endpoint shares its limit.
        return RatesReport(skipped=f"the price feed backs off until {state.backoff_until}")
    source = source or current_source()
    wanted = [code for code in display_currencies() if code != base_currency()]
    try:
        rates = cross_rates(source.exchange_rates(), base_currency(), wanted)
    except FeedError as exc:
        logger.warning("Exchange rates not fetched: %s", exc)
        return RatesReport(error=str(exc))
    store_rates(rates, source.price_source, now or timezone.now())
    report = RatesReport(stored=list(rates), missing=[c for c in wanted if c not in rates])
    if report.missing:
        logger.warning("No exchange rate for %s", ", ".join(report.missing))
    return report


def cross_rates(per_btc: dict[str, Decimal], base: str, codes: list[str]) -> dict[str, Decimal]:
    """Units of each of `codes` per unit of `base`, from units of each per 1 BTC.

    A code without a rate, or whose rate rounds to zero, is left out.
    FeedError when the base itself has no rate: nothing can be converted.
    """
    if not per_btc.get(base):
        raise FeedError(f"the exchange rates have no rate for the base currency {base}")
    rates = {}
    for code in codes:
        if code in per_btc:
            rate = _DIVISION.divide(per_btc[code], per_btc[base]).quantize(RATE_QUANTUM)
            if rate > 0:
                rates[code] = rate
    return rates


def store_rates(rates: dict[str, Decimal], source: PriceSource, now: datetime) -> None:
    """Replace each currency's row with its new rate (one statement)."""
    rows = [
        ExchangeRate(currency=code, base=base_currency(), rate=rate, fetched_at=now, source=source)
        for code, rate in rates.items()
    ]
    ExchangeRate.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["currency"],
        update_fields=["base", "rate", "fetched_at", "source"],
    )
