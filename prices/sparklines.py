"""Inline SVG sparklines, rendered on the server so the first paint needs no JS."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString

WIDTH = 120
HEIGHT = 32
# Keep the stroke inside the box at the highest and lowest point.
PAD = 2


def sparkline_svg(points: list[tuple[datetime, Decimal]]) -> SafeString:
    """An SVG polyline of `points` (ascending), or an empty-state box when < 2."""
    if len(points) < 2:
        return format_html(
            '<svg class="sparkline sparkline-empty" viewBox="0 0 {} {}" role="img" '
            'aria-label="{}"></svg>',
            WIDTH,
            HEIGHT,
            "Not enough price history for a 24 hour trend",
        )
    first_time, last_time = points[0][0], points[-1][0]
    span = (last_time - first_time).total_seconds() or 1.0
    prices = [price for _, price in points]
    low, high = min(prices), max(prices)
    height_range = float(high - low) or 1.0
    coords = " ".join(
        f"{_x(time, first_time, span):.1f},{_y(price, low, height_range):.1f}"
        for time, price in points
    )
    direction = "down" if prices[-1] < prices[0] else "up"
    return format_html(
        '<svg class="sparkline sparkline-{}" viewBox="0 0 {} {}" preserveAspectRatio="none" '
        'role="img" aria-label="24 hour trend: {}"><polyline fill="none" points="{}"/></svg>',
        direction,
        WIDTH,
        HEIGHT,
        direction,
        coords,
    )


def _x(time: datetime, first_time: datetime, span: float) -> float:
    return PAD + (time - first_time).total_seconds() / span * (WIDTH - 2 * PAD)


def _y(price: Decimal, low: Decimal, height_range: float) -> float:
    # SVG's y axis points down: the highest price sits at the top.
    return HEIGHT - PAD - float(price - low) / height_range * (HEIGHT - 2 * PAD)
