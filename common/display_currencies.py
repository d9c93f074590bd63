"""The currencies a user may see prices in: their codes, names and the base.

Read from the settings at call time (DISPLAY_CURRENCIES, VS_CURRENCY), so
accounts can validate a profile's choice and prices can convert
(prices.currencies) without either importing the other.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

# CoinGecko's codes, as people call them; a code not here is shown upper-cased.
NAMES = {
    "usd": "US dollar",
    "eur": "Euro",
    "gbp": "British pound",
    "jpy": "Japanese yen",
    "chf": "Swiss franc",
    "cad": "Canadian dollar",
    "aud": "Australian dollar",
    "cny": "Chinese yuan",
    "inr": "Indian rupee",
    "btc": "Bitcoin",
    "eth": "Ether",
}


def base_currency() -> str:
    """The currency prices are polled and stored in (VS_CURRENCY)."""
    return settings.VS_CURRENCY


def display_currencies() -> list[str]:
    """DISPLAY_CURRENCIES, in order; the base is always among them."""
    codes = list(settings.DISPLAY_CURRENCIES)
    return codes if base_currency() in codes else [base_currency(), *codes]


def currency_name(code: str) -> str:
    return NAMES.get(code, code.upper())


def currency_unit(code: str) -> str:
    """What follows an amount in a currency in words: nothing in the base, " EUR" else."""
    return "" if code == base_currency() else f" {code.upper()}"


def currency_choices() -> list[tuple[str, str]]:
    """(code, "EUR: Euro") for each display currency, for forms."""
    return [(code, f"{code.upper()}: {currency_name(code)}") for code in display_currencies()]


def validate_display_currency(code: str) -> None:
    if code not in display_currencies():
        raise ValidationError(
            "%(code)s is not a currency prices are shown in; choose one of %(codes)s.",
            code="unsupported_currency",
            params={"code": repr(code)[:20], "codes": ", ".join(display_currencies())},
        )
