"""Prices in the currency someone reads them in: the one place that converts and formats.

Every price is polled and stored in the base currency (VS_CURRENCY) and
converted on read with the latest rate prices.exchange_rates stored:

    rate = rate_for("eur")            # Rate(currency="eur", factor=0.92..., stale=False)
    rate.convert(coin.price)          # the price in EUR, Decimal, exact then rounded once
    rate.to_base(Decimal("25000"))    # 25,000 EUR in the base currency
    format_price(rate.convert(coin.price), "eur")   # "€24,840.50"

`rate_for` never hides age: a rate older than EXCHANGE_RATE_STALE_SECONDS
comes back with `stale=True`, and `usable_rate` refuses it (RateUnavailable),
for code that must not act on an old rate (the API, alert evaluation). Pages
use `display_for`, which falls back to the base currency, saying so, when the
wanted currency has no usable rate. The base converts with factor 1 and is
never stale. Rates are cross rates through bitcoin (docs/currencies.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal

from django.conf import settings
from django.utils import timezone

from common.display_currencies import base_currency, currency_name, display_currencies
from prices.models import AMOUNT_DIGITS, PRICE_DIGITS, ExchangeRate, decimal_text

__all__ = [
    "AMOUNT_PLACES",
    "PRICE_PLACES",
    "Display",
    "Rate",
    "RateUnavailable",
    "UnsupportedCurrency",
    "base_rate",
    "currency_name",
    "currency_symbol",
    "current_rates",
    "display_for",
    "display_for_request",
    "format_compact",
    "format_price",
    "rate_for",
    "stale_before",
    "usable_rate",
]

PRICE_PLACES = PRICE_DIGITS["decimal_places"]
AMOUNT_PLACES = AMOUNT_DIGITS["decimal_places"]
# Products and quotients of stored numbers stay exact in 80 digits; the one
# rounding is the final quantize.
_EXACT = Context(prec=80)

SYMBOLS = {
    "usd": "$",
    "eur": "€",
    "gbp": "£",
    "jpy": "¥",
    "cny": "¥",
    "inr": "₹",
    "btc": "₿",
    "eth": "Ξ",
}
# Shown to 8 significant digits: a coin's price in BTC is often far below 1.
SIGNIFICANT_CURRENCIES = frozenset({"btc", "eth"})
SIGNIFICANT_DIGITS = 8
# Currencies without a used minor unit: whole units from 100 up.
WHOLE_CURRENCIES = frozenset({"jpy"})
COMPACT_UNITS = ((Decimal("1e12"), "T"), (Decimal("1e9"), "B"), (Decimal("1e6"), "M"))
MISSING = "—"


class UnsupportedCurrency(ValueError):
    """The code is not one of DISPLAY_CURRENCIES."""

    def __init__(self, currency: str) -> None:
        super().__init__(
            f"{currency[:20]!r} is not a display currency; use one of "
            f"{', '.join(display_currencies())}."
        )
        self.currency = currency


class RateUnavailable(LookupError):
    """No rate to `currency` may be used: none was fetched yet, or it is stale."""

    def __init__(self, currency: str, fetched_at: datetime | None) -> None:
        self.currency, self.fetched_at = currency, fetched_at
        if fetched_at is None:
            why = f"no {currency.upper()} exchange rate has been fetched yet"
        else:
            why = (
                f"the {currency.upper()} exchange rate is out of date "
                f"(fetched {fetched_at.isoformat()}, older than "
                f"{settings.EXCHANGE_RATE_STALE_SECONDS} s)"
            )
        super().__init__(why)


@dataclass(frozen=True)
class Rate:
    """How to turn base amounts into `currency`: units of it per unit of the base."""

    currency: str
    base: str
    factor: Decimal
    fetched_at: datetime | None = None  # None: the base itself
    stale: bool = False

    @property
    def is_base(self) -> bool:
        return self.currency == self.base

    def convert(self, amount: Decimal | None, places: int = PRICE_PLACES) -> Decimal | None:
        """`amount` (in the base) in this currency: the exact product, rounded once.

        Rounded to `places` decimals (the stored precision) plus as many as
        the factor is orders of magnitude below 1, so 1e-10 USD in BTC keeps
        the digits it had in USD.
        """
        if amount is None:
            return None
        if self.is_base:
            return amount
        extra = max(0, -self.factor.adjusted())
        product = _EXACT.multiply(amount, self.factor)
        return product.quantize(Decimal(1).scaleb(-(places + extra)), context=_EXACT)

    def multiply(self, amount: Decimal | None) -> Decimal | None:
        """`amount` (in the base) times the factor, exact, not rounded.

        What alert evaluation compares with an alert's target: the preview's
        replay computes the same product in SQL, so both agree to the digit.
        """
        if amount is None or self.is_base:
            return amount
        return _EXACT.multiply(amount, self.factor)

    def convert_amount(self, amount: Decimal | None) -> Decimal | None:
        """A market cap or volume (2 places in the base) in this currency."""
        return self.convert(amount, AMOUNT_PLACES)

    def to_base(self, amount: Decimal | None, places: int = PRICE_PLACES) -> Decimal | None:
        """`amount` in this currency back in the base, rounded to `places` once."""
        if amount is None or self.is_base:
            return amount
        quotient = _EXACT.divide(amount, self.factor)
        return quotient.quantize(Decimal(1).scaleb(-places), context=_EXACT)

    def as_json(self) -> dict:
        """What a page's script needs to convert live prices (live.js)."""
        return {
            "currency": self.currency,
            "base": self.base,
            "factor": decimal_text(self.factor),
            "fetched_at": self.fetched_at.isoformat() if self.fetched_at else None,
        }


def base_rate() -> Rate:
    base = base_currency()
    return Rate(currency=base, base=base, factor=Decimal(1))


def stale_before(now: datetime | None = None) -> datetime:
    """A rate fetched before this is stale: older than EXCHANGE_RATE_STALE_SECONDS.

    The one statement of the limit, for code that filters rates in SQL too.
    """
    return (now or timezone.now()) - timedelta(seconds=settings.EXCHANGE_RATE_STALE_SECONDS)


def _is_stale(fetched_at: datetime, now: datetime | None) -> bool:
    return fetched_at < stale_before(now)


def _from_row(row: ExchangeRate, now: datetime | None) -> Rate:
    return Rate(
        currency=row.currency,
        base=row.base,
        factor=_without_trailing_zeros(row.rate),
        fetched_at=row.fetched_at,
        stale=_is_stale(row.fetched_at, now),
    )


def _without_trailing_zeros(factor: Decimal) -> Decimal:
    """0.92130000000000000000 (the column's 20 places) as 0.9213, 150.00 as 150.

    The same number, so every product is too; only shorter: alert
    evaluation multiplies thousands of prices by it a batch.
    """
    normal = factor.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal


def rate_for(currency: str, now: datetime | None = None) -> Rate:
    """The latest rate from the base to `currency`, stale or not (see `Rate.stale`).

    UnsupportedCurrency when it is not a display currency; RateUnavailable
    when none was fetched yet (for the current base).
    """
    if currency not in display_currencies():
        raise UnsupportedCurrency(currency)
    if currency == base_currency():
        return base_rate()
    row = ExchangeRate.objects.filter(currency=currency, base=base_currency()).first()
    if row is None:
        raise RateUnavailable(currency, None)
    return _from_row(row, now)


def usable_rate(currency: str, now: datetime | None = None) -> Rate:
    """`rate_for(currency)`, refused (RateUnavailable) when it is stale."""
    rate = rate_for(currency, now)
    if rate.stale:
        raise RateUnavailable(currency, rate.fetched_at)
    return rate


def current_rates(now: datetime | None = None) -> dict[str, Rate]:
    """Every display currency's latest rate, stale ones flagged, in one query.

    Currencies without a rate yet are absent; the base is always present.
    """
    rows = ExchangeRate.objects.filter(currency__in=display_currencies(), base=base_currency())
    rates = {row.currency: _from_row(row, now) for row in rows}
    rates[base_currency()] = base_rate()
    return rates


@dataclass(frozen=True)
class Display:
    """What a page shows amounts in, and what was wanted when it had to fall back.

    `rate` is the rate the page converts with: the wanted currency's, or
    the base's when that one has no usable rate (`fell_back`); then
    `wanted_fetched_at` says how old its last rate is (None: never fetched).
    """

    rate: Rate
    wanted: str
    wanted_fetched_at: datetime | None = None

    @property
    def code(self) -> str:
        return self.rate.currency

    @property
    def fell_back(self) -> bool:
        return self.wanted != self.rate.currency

    def script_data(self) -> dict:
        """The page's json_script for live.js: the rate it converts live prices with."""
        return {**self.rate.as_json(), "symbol": currency_symbol(self.code)}


def display_for(currency: str | None, now: datetime | None = None) -> Display:
    """What to show a reader who wants `currency` (None or unknown: the base)."""
    wanted = currency if currency in display_currencies() else base_currency()
    try:
        return Display(usable_rate(wanted, now), wanted)
    except RateUnavailable as unavailable:
        return Display(base_rate(), wanted, unavailable.fetched_at)


def display_for_request(request) -> Display:
    """The page's Display, read once per request.

    For the signed-in reader's display currency: `request.display_currency`,
    which accounts.middleware.UserPreferencesMiddleware sets (prices does
    not import accounts); visitors see the base.
    """
    display = getattr(request, "_currency_display", None)
    if display is None:
        display = display_for(getattr(request, "display_currency", None))
        request._currency_display = display
    return display


# --- Formatting (static/js/live.js mirrors each rule: keep them in step) ---------------


def currency_symbol(code: str) -> str:
    """ "€" for eur; the upper-case code where no symbol is known."""
    return SYMBOLS.get(code, code.upper())


def with_currency(number: str, code: str) -> str:
    symbol = SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number} {code.upper()}"


def format_price(amount: Decimal | None, code: str) -> str:
    """A price in `code` as live.js's formatPrice prints it.

    From 1 up: cents ($27,000.50), whole units from 100 up in yen
    (¥4,036,500), 8 significant digits in BTC and ETH (₿1.2345678).
    Below 1: 4 significant digits without trailing zeros ($0.08123), 8 in
    BTC and ETH (₿0.0000043201564); below 0.0001 (1e-8 in BTC and ETH),
    scientific notation with 4 decimals ($8.9123e-5).
    """
    if amount is None:
        return MISSING
    if code in SIGNIFICANT_CURRENCIES:
        return with_currency(_significant(amount), code)
    size = abs(amount)
    if size >= 1:
        places = 0 if code in WHOLE_CURRENCIES and size >= 100 else 2
        return with_currency(f"{amount:,.{places}f}", code)
    if amount == 0:
        return with_currency("0.00", code)
    return with_currency(
        f"{float(amount):.4g}" if size >= Decimal("1e-4") else f"{amount:.4e}", code
    )


def format_compact(amount: Decimal | None, code: str) -> str:
    """A market cap or volume in `code`: $1.23B; below a million as a whole
    number ($950,123), in BTC and ETH as a price (₿12.345678)."""
    if amount is None:
        return MISSING
    for size, unit in COMPACT_UNITS:
        if abs(amount) >= size:
            return with_currency(f"{amount / size:,.2f}{unit}", code)
    if code in SIGNIFICANT_CURRENCIES:
        return format_price(amount, code)
    return with_currency(f"{amount:,.0f}", code)


def _significant(amount: Decimal) -> str:
    """SIGNIFICANT_DIGITS digits, grouped, no trailing zeros; scientific below 1e-8."""
    if amount == 0:
        return "0"
    if abs(amount) < Decimal("1e-8"):
        return f"{amount:.4e}"
    exponent = amount.adjusted() - SIGNIFICANT_DIGITS + 1
    rounded = amount.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP, context=_EXACT)
    text = f"{rounded:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
