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
from common.api_filters import StrictBooleanFilter
from prices import history, watchlists
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
    "market_cap_rank": 1,
    "tracked": True,
    "image_url": "https://assets.coingecko.com/coins/images/1/large/bitcoin.png",
    "logo_url": "/coins/bitcoin/logo/?v=3f1c2a9e0b7d4c15",
}
HISTORY_EXAMPLE = {
    "coin": "bitcoin",
    "range": "24h",
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
    price = serializers.CharField(read_only=True, allow_null=True, help_text="Decimal, USD.")
    market_cap = serializers.CharField(read_only=True, allow_null=True)
    volume_24h = serializers.CharField(read_only=True, allow_null=True)
    change_24h_pct = serializers.CharField(read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    source = serializers.CharField(read_only=True, help_text="coingecko, simulated or backfill.")
    simulated = serializers.BooleanField(read_only=True)
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
        return {
            **coin.snapshot(),
            "market_cap_rank": coin.market_cap_rank,
            "tracked": coin.is_tracked,
            "image_url": coin.image_url,
            "logo_url": coin.logo_url or None,
        }


class PricePointSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    price = serializers.CharField(help_text="Decimal, USD.")


class HistorySerializer(serializers.Serializer):
    coin = serializers.CharField(help_text="The CoinGecko id.")
    range = serializers.ChoiceField(choices=history.RANGES)
    points = PricePointSerializer(many=True, help_text="Ascending, at most about 1,000.")


class HistoryQuerySerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=history.RANGES, default="24h")


class CandidatesSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    candidates = CoinSerializer(many=True)


def history_body(coin: Coin, request: Request) -> dict:
    query = HistoryQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    range_key = query.validated_data["range"]
    points = history.price_history(coin, range_key)
    return {
        "coin": coin.coingecko_id,
        "range": range_key,
        "points": [
            {"time": time.isoformat(), "price": decimal_text(price)} for time, price in points
        ],
    }


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
        examples=[OpenApiExample("A page of coins", value=COIN_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One coin",
        description="A coin by its CoinGecko id, with its latest price snapshot. Public.",
        examples=[OpenApiExample("Bitcoin", value=COIN_EXAMPLE, response_only=True)],
    ),
)
class CoinViewSet(ConditionalListMixin, viewsets.ReadOnlyModelViewSet):
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

    @extend_schema(
        summary="Price history of a coin",
        description=(
            "Prices of the coin over `range`, oldest first, at most about 1,000 points "
            "(longer ranges come from minute or hour rollups). Public."
        ),
        parameters=[RANGE_PARAMETER],
        responses=HistorySerializer,
        examples=[OpenApiExample("A day of bitcoin", value=HISTORY_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request: Request, id: str) -> Response:
        return Response(history_body(self.get_object(), request))


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
        parameters=[RANGE_PARAMETER],
        responses={
            200: HistorySerializer,
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
        coins = list(Coin.objects.filter(symbol__iexact=symbol)[:20])
        if not coins:
            raise NotFound(f"No coin has the symbol {symbol!r}.")
        if len(coins) > 1:
            body = {"symbol": symbol, "candidates": CoinSerializer(coins, many=True).data}
            return Response(body, status=status.HTTP_300_MULTIPLE_CHOICES)
        return Response(history_body(coins[0], request))


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
        examples=[WATCHLIST_RESPONSE],
    ),
    destroy=extend_schema(summary="Unpin a coin", description="Remove a coin from your watchlist."),
)
class WatchlistViewSet(
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
