"""Pages and small JSON feeds of the prices app. Logic lives in its modules."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from prices.coin_search import MAX_QUERY_LENGTH, search_coins
from prices.currencies import (
    Rate,
    RateUnavailable,
    UnsupportedCurrency,
    base_rate,
    current_rates,
    display_for_request,
    usable_rate,
)
from prices.dashboard import coin_cards, feed_banner
from prices.history import RANGES, price_history
from prices.models import Coin, decimal_text
from prices.watchlists import WatchRefused, is_watched, unwatch, watch


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    cards = coin_cards(request.user)
    query = request.GET.get("q", "").strip()
    return render(
        request,
        "prices/dashboard.html",
        {
            "cards": cards,
            "banner": feed_banner([card.coin for card in cards]),
            "query": query[:MAX_QUERY_LENGTH],
            "search_results": list(search_coins(query)) if query else [],
        },
    )


@require_GET
def coin_detail(request: HttpRequest, coingecko_id: str) -> HttpResponse:
    coin = get_object_or_404(Coin, coingecko_id=coingecko_id)
    alerts = []
    if request.user.is_authenticated:
        alerts = list(request.user.alerts.filter(coin=coin).order_by("-created_at"))
    return render(
        request,
        "prices/coin_detail.html",
        {
            "coin": coin,
            "alerts": alerts,
            "watched": is_watched(request.user, coin),
            "banner": feed_banner([coin]),
            "ranges": RANGES,
            "price_lines": alert_price_lines(alerts, display_for_request(request).rate),
        },
    )


def alert_price_lines(alerts: list, rate: Rate) -> list[dict[str, str]]:
    """The chart's horizontal lines: each active alert's target, in the chart's
    currency, and its condition.

    A target is in its alert's currency: as it is on a chart in that
    currency, converted from the base otherwise (through the base for a
    third currency); no line while a rate it needs is not usable.
    """
    lines = []
    rates = current_rates() if any(alert.currency != rate.currency for alert in alerts) else {}
    for alert in alerts:
        if not alert.is_active or alert.target is None:
            continue
        price = _in_chart_currency(alert.target, rates.get(alert.currency), alert.currency, rate)
        if price is not None:
            lines.append({"price": decimal_text(price), "title": alert.condition.replace("_", " ")})
    return lines


def _in_chart_currency(
    target: Decimal, own: Rate | None, currency: str, rate: Rate
) -> Decimal | None:
    """`target` (in `currency`, whose rate is `own`) in the chart's currency (`rate`)."""
    if currency == rate.currency:
        return target
    if currency != rate.base:
        if own is None or own.stale:
            return None
        target = own.to_base(target)
    return rate.convert(target)


@require_GET
def coin_history(request: HttpRequest, coingecko_id: str) -> JsonResponse:
    """The chart's points, in `?currency=` (default: the base), converted at today's rate."""
    coin = get_object_or_404(Coin, coingecko_id=coingecko_id)
    range_key = request.GET.get("range", "24h")
    try:
        rate = usable_rate(request.GET["currency"]) if "currency" in request.GET else base_rate()
    except UnsupportedCurrency as unsupported:
        return JsonResponse({"error": str(unsupported)}, status=400)
    except RateUnavailable as unavailable:
        return JsonResponse({"error": f"{unavailable}; ask again later."}, status=409)
    try:
        points = price_history(coin, range_key)
    except ValueError:
        return JsonResponse(
            {"error": f"Unknown range {range_key[:20]!r}; use one of {', '.join(RANGES)}."},
            status=400,
        )
    return JsonResponse(
        {
            "coin": coin.coingecko_id,
            "range": range_key,
            "currency": rate.currency,
            # [unix seconds, exact decimal string]; the chart parses the string.
            "points": [
                [int(time.timestamp()), decimal_text(rate.convert(price))] for time, price in points
            ],
        }
    )


@require_GET
def coin_search(request: HttpRequest) -> JsonResponse:
    coins = search_coins(request.GET.get("q", ""))
    return JsonResponse(
        {
            "results": [
                {
                    "id": coin.coingecko_id,
                    "symbol": coin.symbol,
                    "name": coin.name,
                    "rank": coin.market_cap_rank,
                    "url": coin.get_absolute_url(),
                    # False: not polled; watching it ("Track") starts polling it.
                    "tracked": coin.is_tracked,
                }
                for coin in coins
            ]
        }
    )


@login_required
@require_POST
def watchlist_add(request: HttpRequest) -> HttpResponse:
    coin = get_object_or_404(Coin, coingecko_id=request.POST.get("coin", ""))
    was_tracked = coin.is_tracked
    try:
        created = watch(request.user, coin)
    except WatchRefused as refusal:
        return _watchlist_refusal(request, coin, str(refusal))
    note = f"{coin} added to your watchlist." if created else f"{coin} is already watched."
    if not was_tracked:
        note = f"{coin} is now tracked: its price comes with the next poll. {note}"
    return _watchlist_response(request, coin, watched=True, note=note)


@login_required
@require_POST
def watchlist_remove(request: HttpRequest, coingecko_id: str) -> HttpResponse:
    coin = get_object_or_404(Coin, coingecko_id=coingecko_id)
    if not unwatch(request.user, coin):
        raise Http404(f"{coin} is not on your watchlist.")
    return _watchlist_response(
        request, coin, watched=False, note=f"{coin} removed from your watchlist."
    )


def _watchlist_refusal(request: HttpRequest, coin: Coin, reason: str) -> HttpResponse:
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(
            {"coin": coin.coingecko_id, "watched": False, "message": reason}, status=409
        )
    messages.error(request, reason)
    return _back(request)


def _watchlist_response(request: HttpRequest, coin: Coin, watched: bool, note: str) -> HttpResponse:
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"coin": coin.coingecko_id, "watched": watched, "message": note})
    messages.success(request, note)
    return _back(request)


def _back(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect("prices:dashboard")
