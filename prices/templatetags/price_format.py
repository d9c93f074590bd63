"""Filters that format prices the way live.js formats them after an update."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cny": "¥", "inr": "₹"}
COMPACT_UNITS = ((Decimal("1e12"), "T"), (Decimal("1e9"), "B"), (Decimal("1e6"), "M"))
MISSING = "—"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _with_currency(number: str) -> str:
    code = settings.VS_CURRENCY
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number} {code.upper()}"


@register.simple_tag
def currency_code() -> str:
    """The code of the currency prices are quoted in (VS_CURRENCY): USD, EUR..."""
    return settings.VS_CURRENCY.upper()


@register.filter
def money(value) -> str:
    """A price as live.js's formatPrice prints it after an update.

    Cents from 1 up ($27,000.50); four significant digits below 1, trailing
    zeros dropped ($0.08123); below 0.0001, scientific notation with four
    decimals, so five significant digits ($8.9123e-5), which is what live.js's
    toExponential(4) prints. Change both together (test_live_js compares them).
    """
    amount = _decimal(value)
    if amount is None:
        return MISSING
    if abs(amount) >= 1:
        return _with_currency(f"{amount:,.2f}")
    if amount == 0:
        return _with_currency("0.00")
    return _with_currency(
        f"{float(amount):.4g}" if abs(amount) >= Decimal("1e-4") else f"{amount:.4e}"
    )


@register.filter
def compact_money(value) -> str:
    """A market cap or volume: $1.23B."""
    amount = _decimal(value)
    if amount is None:
        return MISSING
    for size, unit in COMPACT_UNITS:
        if abs(amount) >= size:
            return _with_currency(f"{amount / size:,.2f}{unit}")
    return _with_currency(f"{amount:,.0f}")


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
