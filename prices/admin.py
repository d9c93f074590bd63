from django.contrib import admin
from django.db import models

from prices.models import Coin, ExchangeRate, FeedState, PriceTick


@admin.register(Coin)
class CoinAdmin(admin.ModelAdmin):
    list_display = (
        "coingecko_id",
        "symbol",
        "name",
        "market_cap_rank",
        "is_tracked",
        "price",
        "price_updated_at",
        "price_source",
    )
    list_filter = ("is_tracked", "price_source")
    list_editable = ("is_tracked",)
    search_fields = ("coingecko_id", "symbol", "name")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = (
        "price",
        "market_cap",
        "volume_24h",
        "change_24h_pct",
        "price_updated_at",
        "price_source",
    )


@admin.register(PriceTick)
class PriceTickAdmin(admin.ModelAdmin):
    """Ticks are the market's record: looked at, never edited by hand."""

    list_display = ("coin", "time", "price", "market_cap", "volume_24h", "change_24h_pct", "source")
    list_filter = ("source",)
    list_select_related = ("coin",)
    search_fields = ("coin__coingecko_id", "coin__symbol")
    date_hierarchy = "time"
    # Counting millions of ticks for the paginator would make the page slow.
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FeedState)
class FeedStateAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "last_success_at",
        "last_attempt_at",
        "consecutive_failures",
        "backoff_until",
        "last_error",
    )
    readonly_fields = ("last_success_at", "last_attempt_at", "consecutive_failures", "last_error")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Rates come from CoinGecko every few minutes: looked at, never edited by hand."""

    list_display = ("currency", "base", "rate", "fetched_at", "source")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
