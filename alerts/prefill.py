"""What a link may fill in on the new-alert form: coin, condition, target and currency.

The coin page's chart links to ``/alerts/new/?coin=…&condition=…&target=…``.
A query string is anyone's to write, so each value is checked as the form
would check it and a value that would not pass is left out, never shown.

A target is in `currency` (one of DISPLAY_CURRENCIES) when the link names
one, else in the base currency, the chart's: the form's currency is then set
to match, whatever the reader's display currency (a new alert's default), so
a target is never read in another currency than it was written in.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import QueryDict

from alerts.models import Alert, Condition
from common.display_currencies import base_currency, display_currencies
from prices.currencies import RateUnavailable, usable_rate
from prices.models import Coin

PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
# Longer than any valid value (26 digits, a point and a sign): refuse unread.
MAX_VALUE_LENGTH = 40


def prefill(query: QueryDict) -> dict[str, object]:
    """The form's initial values the query names validly; nothing else."""
    initial: dict[str, object] = {}
    coin = _tracked_coin(query.get("coin", ""))
    if coin is not None:
        initial["coin"] = coin.coingecko_id
    currency = query.get("currency", "")
    if currency in display_currencies():
        initial["currency"] = currency
    target = _target(query.get("target", ""))
    if target is not None:
        initial["target"] = target
        initial.setdefault("currency", base_currency())
    condition = query.get("condition", "")
    if condition in Condition.values:
        initial["condition"] = condition
    elif target is not None and coin is not None:
        price = _price_in(coin, initial["currency"])
        if price is not None:
            # Above when the target is over the current price, below otherwise.
            initial["condition"] = Condition.ABOVE if target > price else Condition.BELOW
    return initial


def _price_in(coin: Coin, currency: str) -> Decimal | None:
    """The coin's price in `currency`; None without a price or a usable rate."""
    try:
        return usable_rate(currency).convert(coin.price)
    except RateUnavailable:
        return None


def _tracked_coin(key: str) -> Coin | None:
    if not key or len(key) > MAX_VALUE_LENGTH:
        return None
    return Coin.objects.filter(coingecko_id=key, is_tracked=True).first()


def _target(text: str) -> Decimal | None:
    """A plain number the target field accepts (positive, its digits), else None."""
    if len(text) > MAX_VALUE_LENGTH or not PLAIN_NUMBER.fullmatch(text):
        return None  # no sign, exponent or spaces: shown as typed, or not at all
    field = Alert._meta.get_field("target")
    value = Decimal(text)
    try:
        field.run_validators(value)
    except ValidationError:
        return None
    return value
