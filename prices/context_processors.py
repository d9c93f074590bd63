"""Template context every page gets from prices: the currency it shows prices in."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from prices.currencies import display_for_request


def currency_display(request: HttpRequest) -> dict:
    """`currency_display`: the page's prices.currencies.Display, read when first used.

    The money filters convert with it (`{{ coin.price|money:currency_display }}`),
    base.html hands its rate to live.js, and the banner says when it fell back.
    """
    return {"currency_display": SimpleLazyObject(lambda: display_for_request(request))}
