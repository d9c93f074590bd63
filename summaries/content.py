"""What a summary says: the watchlist's prices and the active alerts' distances.

Built once per occurrence, when it is claimed, and kept on it
(SummaryOccurrence.content): every channel and every retry says the same.
The keys are the ones notifications.notices documents; amounts are decimal
strings (null when unknown) beside the text the pages would show. Coin
prices are in the reader's display currency, converted with its rate when
the summary is built, or in the base with a note when that rate is stale
(prices.currencies.display_for); each alert's distance is in its own
currency.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.urls import reverse

from alerts.currency_status import paused_currencies
from alerts.models import Alert, Status
from alerts.progress import Distance, distances
from prices.currencies import Display, display_for
from prices.models import Coin, decimal_text
from prices.templatetags.price_format import money, percent_change
from prices.watchlists import watched_coins
from summaries.models import SummarySchedule

# Coins named in the one-line version (push, popup); the rest are counted.
BRIEF_COINS = 3
CENT = Decimal("0.01")
EMPTY = (
    "Your watchlist is empty and you have no active alerts: pin coins on the dashboard "
    "or create an alert, and they will show here."
)


def summary_content(schedule: SummarySchedule, scheduled_for: datetime) -> dict:
    """The summary of `schedule`'s owner as of now, for the time it was due."""
    user = schedule.user
    zone = schedule.zone()
    local = scheduled_for.astimezone(zone)
    display = display_for(getattr(getattr(user, "profile", None), "display_currency", None))
    coins = [_coin_row(coin, display) for coin in watched_coins(user)]
    alerts = list(
        Alert.objects.filter(user=user, status=Status.ACTIVE)
        .select_related("coin")
        .order_by("coin__symbol", "pk")
    )
    found = distances(alerts)
    waiting = {paused.currency: paused for paused in paused_currencies(user)}
    alert_rows = [_alert_row(alert, found.get(alert.pk), waiting) for alert in alerts]
    title = f"Your summary for {local:%A} {local.day} {local:%B}, {local:%H:%M} ({zone.key})"
    return {
        "title": title,
        "short": _brief(coins, alert_rows),
        "text": _text(title, coins, alert_rows, _fallback_note(display)),
        "path": reverse("prices:dashboard"),
        "settings_path": reverse("summaries:list"),
        "scheduled_for": scheduled_for.isoformat(),
        "local_time": local.isoformat(),
        "time_zone": zone.key,
        "currency": display.code,
        "coins": coins,
        "alerts": alert_rows,
    }


def _fallback_note(display: Display) -> str:
    if not display.fell_back:
        return ""
    return (
        f"Prices are in {display.code.upper()}: the {display.wanted.upper()} exchange rate "
        "is out of date."
    )


def _coin_row(coin: Coin, display: Display) -> dict:
    return {
        "id": coin.coingecko_id,
        "symbol": coin.symbol.upper(),
        "name": coin.name,
        "price": _amount(display.rate.convert(coin.price)),
        "change_24h_pct": _amount(coin.change_24h_pct),
        "price_text": money(coin.price, display),
        "change_text": percent_change(coin.change_24h_pct),
        "path": coin.get_absolute_url(),
    }


def _alert_row(alert: Alert, distance: Distance | None, waiting: dict) -> dict:
    return {
        "id": alert.pk,
        "coin": alert.coin.coingecko_id,
        "symbol": alert.coin.symbol.upper(),
        "description": alert.describe(),
        "distance": _amount(distance.amount if distance else None),
        "distance_percent": _amount(
            distance.percent.quantize(CENT) if distance and distance.percent is not None else None
        ),
        "distance_text": _distance_text(alert, distance, waiting),
        "path": alert.get_absolute_url(),
    }


def _distance_text(alert: Alert, distance: Distance | None, waiting: dict) -> str:
    """As the alert list says it: how far to the target, or how far it moved so far."""
    paused = waiting.get(alert.currency)
    if paused is not None:
        # Not evaluated until its currency's rate is fresh again (alerts.currency_status).
        if not paused.offered:
            return f"not evaluated: {paused.code} is no longer offered, edit its currency"
        return f"waiting for a fresh {paused.code} exchange rate"
    if alert.is_movement:
        return f"moved {distance.percent_text} so far" if distance else "no move measured yet"
    if distance is None:
        return "no price yet"
    if not distance.percent_text:  # a 24 h change's distance is in points only
        return f"{distance.amount_text} ({distance.label.lower()})"
    return f"{distance.amount_text} ({distance.percent_text}) to the target"


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _brief(coins: list[dict], alerts: list[dict]) -> str:
    if not coins and not alerts:
        return "Nothing to summarise: your watchlist is empty and you have no active alerts."
    parts = [
        f"{coin['symbol']} {coin['price_text']} {coin['change_text']}"
        for coin in coins[:BRIEF_COINS]
    ]
    if len(coins) > BRIEF_COINS:
        parts.append(f"{len(coins) - BRIEF_COINS} more coins")
    if alerts:
        parts.append(f"{len(alerts)} active alert{'s' if len(alerts) != 1 else ''}")
    return " · ".join(parts)


def _text(title: str, coins: list[dict], alerts: list[dict], note: str = "") -> str:
    if not coins and not alerts:
        return f"{title}\n\n{EMPTY}"
    lines = [title, ""]
    if note:
        lines += [note, ""]
    lines.append("Watchlist" if coins else "Your watchlist is empty.")
    lines += [
        f"  {c['name']} ({c['symbol']}): {c['price_text']}, {c['change_text']} in 24 h"
        for c in coins
    ]
    lines.append("")
    lines.append("Active alerts" if alerts else "You have no active alerts.")
    lines += [f"  {a['symbol']} {a['description']}: {a['distance_text']}" for a in alerts]
    return "\n".join(lines).rstrip()
