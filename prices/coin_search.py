"""Search of the coin catalogue by name, symbol or CoinGecko id."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Lower

from prices.models import Coin

MAX_QUERY_LENGTH = 100
MAX_RESULTS = 20


def search_coins(query: str, limit: int = MAX_RESULTS) -> QuerySet[Coin]:
    """Coins matching `query`, exact id or symbol first, then by market cap rank.

    Symbols are not unique (many coins call themselves "ETH"), so callers show
    the CoinGecko id beside each result.
    """
    query = query.strip()[:MAX_QUERY_LENGTH]
    if not query:
        return Coin.objects.none()
    lowered = query.lower()
    matches = Q(name__icontains=query) | Q(symbol__iexact=query) | Q(coingecko_id__icontains=query)
    exactness = Case(
        When(coingecko_id=lowered, then=Value(0)),
        When(symbol__iexact=query, then=Value(1)),
        When(name__iexact=query, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return (
        Coin.objects.filter(matches)
        .annotate(exactness=exactness)
        .order_by("exactness", "market_cap_rank", Lower("name"), "coingecko_id")[:limit]
    )
