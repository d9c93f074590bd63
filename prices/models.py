"""Coins, the price ticks we store for them, their rollups and the feed's health."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

# Exact decimals, never floats. 12 integer digits cover any plausible price;
# 14 decimal places keep sub-cent meme coins (1e-10 USD) exact enough.
PRICE_DIGITS = {"max_digits": 26, "decimal_places": 14}
# Market caps and volumes reach 1e13 USD.
AMOUNT_DIGITS = {"max_digits": 24, "decimal_places": 2}
PERCENT_DIGITS = {"max_digits": 14, "decimal_places": 4}
# Units of a currency per unit of the base: 20 places keep 13 significant
# digits of even 1 JPY in BTC (1e-7); 16 integer digits hold 1 BTC in any unit.
RATE_DIGITS = {"max_digits": 36, "decimal_places": 20}


class PriceSource(models.TextChoices):
    COINGECKO = "coingecko", "CoinGecko"
    SIMULATED = "simulated", "Simulated"
    BACKFILL = "backfill", "CoinGecko history"


class Coin(models.Model):
    """A CoinGecko coin. Its CoinGecko id is the identity: symbols are not unique."""

    coingecko_id = models.CharField(max_length=100, unique=True)
    symbol = models.CharField(max_length=50, db_index=True)
    name = models.CharField(max_length=200)
    image_url = models.URLField(max_length=500, blank=True)
    market_cap_rank = models.PositiveIntegerField(null=True, blank=True)
    is_tracked = models.BooleanField(default=False, db_index=True)
    # Tracked because TRACKED_COINS named it at the last catalogue sync (or
    # at a live poll that reported it, prices.ingest), so a sync can stop
    # tracking it once the setting drops it (prices.catalogue.untrack_dropped).
    tracked_by_setting = models.BooleanField(default=False)
    # The SHA-256 of our copy of its logo (CoinLogo), "" until one is stored:
    # pages show the letter avatar until then. It versions the logo's URL.
    logo_digest = models.CharField(max_length=64, blank=True)

    # The latest snapshot, denormalised so pages and alert forms read one row.
    price = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    market_cap = models.DecimalField(**AMOUNT_DIGITS, null=True, blank=True)
    volume_24h = models.DecimalField(**AMOUNT_DIGITS, null=True, blank=True)
    change_24h_pct = models.DecimalField(**PERCENT_DIGITS, null=True, blank=True)
    price_updated_at = models.DateTimeField(null=True, blank=True)
    price_source = models.CharField(max_length=20, choices=PriceSource.choices, blank=True)

    class Meta:
        ordering = ["market_cap_rank", "coingecko_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.symbol.upper()})"

    def get_absolute_url(self) -> str:
        return reverse("prices:coin-detail", args=[self.coingecko_id])

    @property
    def logo_url(self) -> str:
        """Our copy of the coin's logo, or "" when we hold none (prices.logos)."""
        if not self.logo_digest:
            return ""
        url = reverse("prices:coin-logo", args=[self.coingecko_id])
        return f"{url}?v={self.logo_digest[:16]}"

    @property
    def is_simulated(self) -> bool:
        return self.price_source == PriceSource.SIMULATED

    def snapshot(self) -> dict:
        """The coin's latest price as sent to browsers and API clients."""
        return {
            "id": self.coingecko_id,
            "symbol": self.symbol,
            "name": self.name,
            "price": _str_or_none(self.price),
            "market_cap": _str_or_none(self.market_cap),
            "volume_24h": _str_or_none(self.volume_24h),
            "change_24h_pct": _str_or_none(self.change_24h_pct),
            "updated_at": self.price_updated_at.isoformat() if self.price_updated_at else None,
            "source": self.price_source,
            "simulated": self.is_simulated,
        }


def decimal_text(value: Decimal) -> str:
    """A decimal as exact plain text for JSON: no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


class PriceTick(models.Model):
    """One price as CoinGecko reported it, at the time CoinGecko last updated it."""

    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="ticks")
    time = models.DateTimeField()
    price = models.DecimalField(**PRICE_DIGITS)
    market_cap = models.DecimalField(**AMOUNT_DIGITS, null=True, blank=True)
    volume_24h = models.DecimalField(**AMOUNT_DIGITS, null=True, blank=True)
    change_24h_pct = models.DecimalField(**PERCENT_DIGITS, null=True, blank=True)
    source = models.CharField(max_length=20, choices=PriceSource.choices)

    class Meta:
        constraints = [
            # Re-ingesting the same (coin, time) is a no-op; this index also
            # serves every "ticks of a coin in a time range" query.
            models.UniqueConstraint(fields=["coin", "time"], name="pricetick_coin_time_uniq"),
        ]
        indexes = [models.Index(fields=["time"], name="pricetick_time_idx")]

    def __str__(self) -> str:
        return f"{self.coin_id} {self.price} @ {self.time:%Y-%m-%d %H:%M:%S}"


class Resolution(models.TextChoices):
    MINUTE = "1m", "1 minute"
    HOUR = "1h", "1 hour"


class PriceRollup(models.Model):
    """Open/high/low/close of a coin over one minute or one hour.

    Maintained on every ingest (prices.rollups) so charts over long ranges read
    a few thousand rows instead of millions of ticks, and so history survives
    the retention of raw ticks.
    """

    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="rollups")
    resolution = models.CharField(max_length=2, choices=Resolution.choices)
    bucket = models.DateTimeField()
    open = models.DecimalField(**PRICE_DIGITS)
    high = models.DecimalField(**PRICE_DIGITS)
    low = models.DecimalField(**PRICE_DIGITS)
    close = models.DecimalField(**PRICE_DIGITS)
    open_time = models.DateTimeField()
    close_time = models.DateTimeField()
    simulated = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["coin", "resolution", "bucket"], name="pricerollup_coin_res_bucket_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coin_id} {self.resolution} {self.bucket:%Y-%m-%d %H:%M}"


class FeedState(models.Model):
    """The health of a price feed: when it last worked and how it is failing."""

    name = models.CharField(max_length=50, unique=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # No poll is attempted before this time (Retry-After or our own backoff).
    backoff_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> FeedState:
        state, _ = cls.objects.get_or_create(name=settings.PRICE_SOURCE)
        return state

    @classmethod
    def observed(cls) -> FeedState:
        """The current feed's state for display, read-only: unsaved and blank
        (never succeeded, so stale) when no poll has run yet."""
        state = cls.objects.filter(name=settings.PRICE_SOURCE).first()
        return state or cls(name=settings.PRICE_SOURCE)

    def seconds_since_success(self, now=None) -> float | None:
        if self.last_success_at is None:
            return None
        return ((now or timezone.now()) - self.last_success_at).total_seconds()

    def is_stale(self, now=None) -> bool:
        """True when no good poll happened for PRICE_STALE_AFTER_POLLS intervals."""
        age = self.seconds_since_success(now)
        limit = settings.PRICE_POLL_SECONDS * settings.PRICE_STALE_AFTER_POLLS
        return age is None or age > limit

    def is_backing_off(self, now=None) -> bool:
        return self.backoff_until is not None and (now or timezone.now()) < self.backoff_until

    def record_success(self) -> None:
        now = timezone.now()
        FeedState.objects.filter(pk=self.pk).update(
            last_success_at=now,
            last_attempt_at=now,
            consecutive_failures=0,
            last_error="",
            backoff_until=None,
        )
        self.refresh_from_db()

    def record_failure(self, error: str, retry_after: timedelta | None) -> None:
        now = timezone.now()
        FeedState.objects.filter(pk=self.pk).update(
            last_attempt_at=now,
            consecutive_failures=models.F("consecutive_failures") + 1,
            last_error=error[:2000],
            backoff_until=now + retry_after if retry_after else None,
        )
        self.refresh_from_db()


class ExchangeRate(models.Model):
    """The latest rate from the base currency (VS_CURRENCY) to one display currency.

    `rate` is units of `currency` per unit of `base`: a cross rate through
    bitcoin, from CoinGecko's /exchange_rates (prices.exchange_rates, every
    EXCHANGE_RATES_SECONDS). Each fetch replaces the row; prices.currencies
    converts with it and says when it is too old to use.
    """

    currency = models.CharField(max_length=10, unique=True)
    # The base the rate was computed for: a row left from another VS_CURRENCY
    # is never used.
    base = models.CharField(max_length=10)
    rate = models.DecimalField(**RATE_DIGITS)
    fetched_at = models.DateTimeField()
    source = models.CharField(max_length=20, choices=PriceSource.choices)

    class Meta:
        ordering = ["currency"]

    def __str__(self) -> str:
        return f"1 {self.base.upper()} = {self.rate.normalize()} {self.currency.upper()}"


class CoinLogo(models.Model):
    """Our copy of a coin's logo, downloaded from its image URL (prices.logos).

    `source_url` is the image URL last tried, whether or not that worked, so
    an image that failed is not fetched again until CoinGecko names another
    (or `sync_coins` retries). A failed try keeps the image stored before.
    """

    coin = models.OneToOneField(
        Coin, on_delete=models.CASCADE, primary_key=True, related_name="logo"
    )
    source_url = models.URLField(max_length=500)
    attempted_at = models.DateTimeField()
    error = models.TextField(blank=True)
    content_type = models.CharField(max_length=20, blank=True)
    data = models.BinaryField(default=b"", blank=True)

    def __str__(self) -> str:
        return f"logo of {self.coin_id}"


class WatchlistEntry(models.Model):
    """A coin a user pinned to the top of their dashboard."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlist"
    )
    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="watchers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "coin"], name="watchlist_user_coin_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user} watches {self.coin_id}"
