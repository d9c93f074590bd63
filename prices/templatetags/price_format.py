"""Filters that format prices the way live.js formats them after an update."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.html import format_html

from common.display_currencies import base_currency
from prices import currencies

register = template.Library()

MISSING = currencies.MISSING


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _shown(value, shown, places: int) -> tuple[Decimal | None, str]:
    """The amount and the currency to print it in.

    `shown` is the page's Display (or a Rate): the base amount is converted
    into its currency. A currency code labels an amount already in it.
    Nothing: the amount is in the base currency.
    """
    amount = _decimal(value)
    rate = getattr(shown, "rate", shown)
    if isinstance(rate, currencies.Rate):
        return rate.convert(amount, places), rate.currency
    if isinstance(shown, str) and shown:
        return amount, shown
    return amount, base_currency()


@register.simple_tag
def currency_code() -> str:
    """The code of the currency prices are stored in (VS_CURRENCY): USD, EUR..."""
    return base_currency().upper()


@register.filter
def money(value, shown=None) -> str:
    """A price as live.js's formatPrice prints it (prices.currencies.format_price).

    `{{ coin.price|money }}` in the base currency; `{{ coin.price|money:currency_display }}`
    converted into the page's display currency; `|money:"eur"` for an amount
    already in EUR. Change live.js with it (test_live_js compares them).
    """
    amount, code = _shown(value, shown, currencies.PRICE_PLACES)
    return currencies.format_price(amount, code)


@register.filter
def compact_money(value, shown=None) -> str:
    """A market cap or volume: $1.23B; `shown` as for money."""
    amount, code = _shown(value, shown, currencies.AMOUNT_PLACES)
    return currencies.format_compact(amount, code)


@register.filter
def percent_change(value) -> str:
    change = _decimal(value)
    if change is None:
        return MISSING
    return f"{change:+.2f}%"


@register.filter
def change_class(value) -> str:
    """The CSS class live.js also sets: "up" for >= 0, "down" below."""
    change = _decimal(value)
    if change is None:
        return ""
    return "down" if change < 0 else "up"


@register.filter
def updated_ago(value: datetime | None) -> str:
    return "no price yet" if value is None else f"updated {time_ago(value)}"


def time_ago(value: datetime) -> str:
    """How long ago, as live.js's formatSince says it: "5s ago", "3m ago", "2d ago"."""
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


@register.simple_tag
def ago(value: datetime) -> str:
    """A <time> saying how long ago; live.js keeps it current, its title is the time itself."""
    zone = timezone.get_current_timezone_name()
    return format_html(
        '<time datetime="{}" data-ago title="{} {}">{}</time>',
        value.isoformat(),
        timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S"),
        zone,
        time_ago(value),
    )
