"""REST API of prices: the coin catalogue, price history and the caller's watchlist."""

from __future__ import annotations

import django_filters
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import filters, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_cache import ConditionalListMixin, ValidatorQuery, row_digest
from common.api_errors import Conflict, ErrorSerializer, error_body
from common.api_filters import StrictBooleanFilter
from common.display_currencies import base_currency, display_currencies
from prices import history, watchlists
from prices.currencies import Rate, RateUnavailable, base_rate, usable_rate
from prices.models import Coin, WatchlistEntry, decimal_text

COIN_EXAMPLE = {
    "id": "bitcoin",
    "symbol": "btc",
    "name": "Bitcoin",
    "price": "67012.5",
    "market_cap": "1320000000000",
    "volume_24h": "31000000000",
    "change_24h_pct": "-1.25",
    "updated_at": "2026-11-21T06:00:00+00:00",
    "source": "coingecko",
    "simulated": False,
    "currency": "usd",
    "market_cap_rank": 1,
    "tracked": True,
    "image_url": "https://assets.coingecko.com/coins/images/1/large/bitcoin.png",
    "logo_url": "/coins/bitcoin/logo/?v=3f1c2a9e0b7d4c15",
}
HISTORY_EXAMPLE = {
    "coin": "bitcoin",
    "range": "24h",
    "currency": "usd",
    "points": [
        {"time": "2026-11-20T06:00:00+00:00", "price": "66100.1"},
        {"time": "2026-11-20T06:05:00+00:00", "price": "66180.4"},
    ],
}


class CoinSerializer(serializers.Serializer):
    """A coin and its latest price: the same snapshot the live page receives."""

    id = serializers.CharField(read_only=True, help_text="The CoinGecko id (unique).")
    symbol = serializers.CharField(read_only=True, help_text="Ticker; not unique.")
    name = serializers.CharField(read_only=True)
    price = serializers.CharField(
        read_only=True, allow_null=True, help_text="Decimal, in `currency`."
    )
    market_cap = serializers.CharField(read_only=True, allow_null=True)
    volume_24h = serializers.CharField(read_only=True, allow_null=True)
    change_24h_pct = serializers.CharField(read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    source = serializers.CharField(read_only=True, help_text="coingecko, simulated or backfill.")
    simulated = serializers.BooleanField(read_only=True)
    currency = serializers.CharField(
        read_only=True,
        help_text="What price, market_cap and volume_24h are in: `?currency=`, else the base.",
    )
    market_cap_rank = serializers.IntegerField(read_only=True, allow_null=True)
    tracked = serializers.BooleanField(read_only=True, help_text="Polled every few seconds.")
    image_url = serializers.CharField(
        read_only=True, help_text="CoinGecko's address of the logo; prefer logo_url."
    )
    logo_url = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="This instance's copy of the logo (cached for a year), null until fetched.",
    )

    def to_representation(self, coin: Coin) -> dict:
        rate: Rate = self.context.get("rate") or base_rate()
        return {
            **coin.snapshot(),
            "price": _text(rate.convert(coin.price)),
            "market_cap": _text(rate.convert_amount(coin.market_cap)),
            "volume_24h": _text(rate.convert_amount(coin.volume_24h)),
            "currency": rate.currency,
            "market_cap_rank": coin.market_cap_rank,
            "tracked": coin.is_tracked,
            "image_url": coin.image_url,
            "logo_url": coin.logo_url or None,
        }


def _text(value) -> str | None:
    return None if value is None else decimal_text(value)


class PricePointSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    price = serializers.CharField(help_text="Decimal, in the history's `currency`.")


class HistorySerializer(serializers.Serializer):
    coin = serializers.CharField(help_text="The CoinGecko id.")
    range = serializers.ChoiceField(choices=history.RANGES)
    currency = serializers.CharField(help_text="What the prices are in.")
    points = PricePointSerializer(many=True, help_text="Ascending, at most about 1,000.")


class CurrencyQuerySerializer(serializers.Serializer):
    currency = serializers.ChoiceField(choices=[], required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # DISPLAY_CURRENCIES, read per request (never at import).
        self.fields["currency"].choices = display_currencies()


def requested_rate(request: Request) -> Rate:
    """The rate into `?currency=` (none: the base).

    400 for a code that is not a display currency; 409 while its rate is
    missing or older than EXCHANGE_RATE_STALE_SECONDS: an answer converted
    with it would pass an old rate off as current.
    """
    query = CurrencyQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    code = query.validated_data.get("currency")
    if not code:
        return base_rate()
    try:
        return usable_rate(code)
    except RateUnavailable as unavailable:
        raise Conflict(
            detail=f"{unavailable}: ask again later, or in {base_currency()}.",
            code="exchange_rate_unavailable",
        ) from None


class CurrencyMixin:
    """`?currency=` for a viewset whose answers hold prices: resolved once, after
    authentication and throttling, and handed to the serializers as `rate`."""

    rate: Rate

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self.rate = requested_rate(request)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "rate": getattr(self, "rate", None)}


class HistoryQuerySerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=history.RANGES, default="24h")


class CandidatesSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    candidates = CoinSerializer(many=True)


def history_body(coin: Coin, request: Request, rate: Rate) -> dict:
    """The history in `rate`'s currency: every point at today's rate (docs/currencies.md)."""
    query = HistoryQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    range_key = query.validated_data["range"]
    points = history.price_history(coin, range_key)
    return {
        "coin": coin.coingecko_id,
        "range": range_key,
        "currency": rate.currency,
        "points": [
            {"time": time.isoformat(), "price": decimal_text(rate.convert(price))}
            for time, price in points
        ],
    }


CURRENCY_PARAMETER = OpenApiParameter(
    "currency",
    str,
    description=(
        "Amounts in this currency, one of the site's DISPLAY_CURRENCIES (default "
        "usd,eur,gbp,jpy,btc,eth), converted from the base (VS_CURRENCY, the default) "
        "with the latest exchange rate. An unknown code is a 400; 409 "
        "`exchange_rate_unavailable` while that currency's rate is missing or stale."
    ),
)
RATE_CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="The `?currency=` rate is missing or older than EXCHANGE_RATE_STALE_SECONDS.",
    examples=[
        OpenApiExample(
            "exchange_rate_unavailable",
            value=error_body(
                "exchange_rate_unavailable",
                "the EUR exchange rate is out of date (fetched 2026-11-21T04:00:00+00:00, "
                "older than 3600 s): ask again later, or in usd.",
            ),
            response_only=True,
            status_codes=["409"],
        )
    ],
)
RANGE_PARAMETER = OpenApiParameter(
    "range",
    str,
    enum=list(history.RANGES),
    default="24h",
    description="How far back: 1h, 24h, 7d, 30d, 1y or all.",
)


class CoinFilter(django_filters.FilterSet):
    tracked = StrictBooleanFilter(
        field_name="is_tracked", help_text="Only coins polled live (true) or not (false)."
    )
    ordering = django_filters.OrderingFilter(
        fields=(("market_cap_rank", "rank"), ("name", "name"), ("coingecko_id", "id")),
        help_text="rank, name or id; prefix with - to reverse. Default: rank.",
    )

    class Meta:
        model = Coin
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List coins",
        description=(
            "The coin catalogue with each coin's latest price, by market cap rank. "
            "`search` matches the CoinGecko id, the name or the symbol (case-insensitive). "
            "Public: no authentication needed."
        ),
        parameters=[CURRENCY_PARAMETER],
        responses={200: CoinSerializer(many=True), 409: RATE_CONFLICT},
        examples=[OpenApiExample("A page of coins", value=COIN_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One coin",
        description="A coin by its CoinGecko id, with its latest price snapshot. Public.",
        parameters=[CURRENCY_PARAMETER],
        responses={200: CoinSerializer, 409: RATE_CONFLICT},
        examples=[OpenApiExample("Bitcoin", value=COIN_EXAMPLE, response_only=True)],
    ),
)
class CoinViewSet(CurrencyMixin, ConditionalListMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Coin.objects.all()
    serializer_class = CoinSerializer
    permission_classes = [AllowAny]
    lookup_field = "coingecko_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[^/]+"
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, filters.SearchFilter]
    filterset_class = CoinFilter
    search_fields = ["coingecko_id", "name", "symbol"]
    list_cache_scope = "coins"
    list_shared = True  # no field depends on the caller

    def list_validator(self, request: Request) -> ValidatorQuery | None:
        # Any page of any filter can show any coin: the whole catalogue.
        return row_digest(Coin._meta.db_table)

    def list_etag(self, request: Request, validator: str) -> str:
        # The URL names the currency; a new rate for it is a new page.
        rate = f"{self.rate.factor}@{self.rate.fetched_at}"
        return super().list_etag(request, f"{validator}:{rate}")

    @extend_schema(
        summary="Price history of a coin",
        description=(
            "Prices of the coin over `range`, oldest first, at most about 1,000 points "
            "(longer ranges come from minute or hour rollups). Public."
        ),
        parameters=[RANGE_PARAMETER, CURRENCY_PARAMETER],
        responses={200: HistorySerializer, 409: RATE_CONFLICT},
        examples=[OpenApiExample("A day of bitcoin", value=HISTORY_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request: Request, id: str) -> Response:
        return Response(history_body(self.get_object(), request, self.rate))


class SymbolHistoryView(APIView):
    """History by ticker symbol, for the product brief's `GET /prices/:symbol/history`."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="Price history by symbol",
        description=(
            "Like /coins/{id}/history/ but by ticker symbol (case-insensitive). Symbols are "
            "not unique: when several coins share the symbol the answer is **300 Multiple "
            "Choices** listing the candidates (by rank); ask again with "
            "/coins/{id}/history/. One match answers with its history; none is a 404."
        ),
        parameters=[RANGE_PARAMETER, CURRENCY_PARAMETER],
        responses={
            200: HistorySerializer,
            409: RATE_CONFLICT,
            300: OpenApiResponse(
                CandidatesSerializer,
                description="Several coins use this symbol.",
                examples=[
                    OpenApiExample(
                        "Ambiguous symbol",
                        value={"symbol": "usdc", "candidates": [COIN_EXAMPLE]},
                        status_codes=["300"],
                    )
                ],
            ),
        },
        examples=[OpenApiExample("A day of btc", value=HISTORY_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, symbol: str) -> Response:
        rate = requested_rate(request)
        coins = list(Coin.objects.filter(symbol__iexact=symbol)[:20])
        if not coins:
            raise NotFound(f"No coin has the symbol {symbol!r}.")
        if len(coins) > 1:
            candidates = CoinSerializer(coins, many=True, context={"rate": rate}).data
            body = {"symbol": symbol, "candidates": candidates}
            return Response(body, status=status.HTTP_300_MULTIPLE_CHOICES)
        return Response(history_body(coins[0], request, rate))


class CoinIdField(serializers.SlugRelatedField):
    """A coin given by its CoinGecko id (symbols are not unique)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("slug_field", "coingecko_id")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Coin.objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        # PostgreSQL cannot even compare text holding NUL: refuse it before the query.
        ProhibitNullCharactersValidator()(data)
        return super().to_internal_value(data)


class WatchlistEntrySerializer(serializers.ModelSerializer):
    coin = CoinIdField(help_text="The CoinGecko id of the coin to pin.")
    snapshot = CoinSerializer(source="coin", read_only=True)

    class Meta:
        model = WatchlistEntry
        fields = ["coin", "snapshot", "created_at"]
        read_only_fields = ["created_at"]

    def validate_coin(self, coin: Coin) -> Coin:
        if watchlists.is_watched(self.context["request"].user, coin):
            raise serializers.ValidationError("This coin is already on your watchlist.")
        return coin


WATCHLIST_RESPONSE = OpenApiExample(
    "Pinned bitcoin",
    value={"coin": "bitcoin", "snapshot": COIN_EXAMPLE, "created_at": "2026-11-21T06:00:00Z"},
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="Your watchlist",
        description="The coins you pinned, in the order you pinned them, with their prices.",
        parameters=[CURRENCY_PARAMETER],
        responses={200: WatchlistEntrySerializer(many=True), 409: RATE_CONFLICT},
        examples=[WATCHLIST_RESPONSE],
    ),
    create=extend_schema(
        summary="Pin a coin",
        description="Add a coin (by CoinGecko id) to your watchlist.",
        examples=[
            OpenApiExample("Pin bitcoin", value={"coin": "bitcoin"}, request_only=True),
            WATCHLIST_RESPONSE,
        ],
    ),
    retrieve=extend_schema(
        summary="One pinned coin",
        description="A watchlist entry by coin id.",
        parameters=[CURRENCY_PARAMETER],
        responses={200: WatchlistEntrySerializer, 409: RATE_CONFLICT},
        examples=[WATCHLIST_RESPONSE],
    ),
    destroy=extend_schema(summary="Unpin a coin", description="Remove a coin from your watchlist."),
)
class WatchlistViewSet(
    CurrencyMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = WatchlistEntry.objects.none()  # for the schema only
    serializer_class = WatchlistEntrySerializer
    lookup_field = "coin__coingecko_id"
    lookup_url_kwarg = "coin"
    lookup_value_regex = "[^/]+"
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[WatchlistEntry]:
        return self.request.user.watchlist.select_related("coin").order_by("created_at", "pk")

    def perform_create(self, serializer: WatchlistEntrySerializer) -> None:
        coin = serializer.validated_data["coin"]
        try:
            watchlists.watch(self.request.user, coin)
        except watchlists.WatchRefused as refusal:
            raise serializers.ValidationError({"coin": [str(refusal)]}) from refusal
        serializer.instance = self.get_queryset().get(coin=coin)

    def perform_destroy(self, instance: WatchlistEntry) -> None:
        watchlists.unwatch(self.request.user, instance.coin)
