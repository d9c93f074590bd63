"""Price alerts and the events that record each time one fired."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from alerts import steps
from common.delivery_channels import Channel
from common.display_currencies import base_currency, currency_unit, validate_display_currency
from common.user_caps import hold_cap_lock
from notifications.models import web_push_problems
from prices.currencies import (
    AMOUNT_PLACES,
    PRICE_PLACES,
    RateUnavailable,
    UnsupportedCurrency,
    usable_rate,
)
from prices.models import (
    PERCENT_DIGITS,
    PRICE_DIGITS,
    RATE_DIGITS,
    Coin,
    PriceTick,
    decimal_text,
)


class Condition(models.TextChoices):
    ABOVE = "above", "price is at or above"
    BELOW = "below", "price is at or below"
    CROSSES_UP = "crosses_up", "price crosses up through"
    CROSSES_DOWN = "crosses_down", "price crosses down through"
    CROSSES = "crosses", "price crosses"
    PCT_UP = "pct_up", "price rises by"
    PCT_DOWN = "pct_down", "price falls by"
    PCT_MOVE = "pct_move", "price moves by"
    MARKET_CAP_ABOVE = "market_cap_above", "market cap is at or above"
    MARKET_CAP_BELOW = "market_cap_below", "market cap is at or below"
    MARKET_CAP_CROSSES = "market_cap_crosses", "market cap crosses"
    VOLUME_ABOVE = "volume_24h_above", "24 h volume is at or above"
    VOLUME_BELOW = "volume_24h_below", "24 h volume is at or below"
    CHANGE_ABOVE = "change_24h_above", "24 h change is at or above"
    CHANGE_BELOW = "change_24h_below", "24 h change is at or below"
    ENTERS_RANGE = "enters_range", "price enters the range"
    EXITS_RANGE = "exits_range", "price exits the range"
    PCT_STEP = steps.STEP, "price moves by a step of"
    PCT_STEP_UP = steps.STEP_UP, "price rises by a step of"
    PCT_STEP_DOWN = steps.STEP_DOWN, "price falls by a step of"


# What each condition compares, and so which fields it takes:
# price conditions a `target`, movements a `percent` and `window`, metric
# conditions a `threshold`, ranges `range_low` and `range_high`, steps a
# `percent` (their band is the evaluator's: alerts.steps).
PRICE_LEVEL_CONDITIONS = {Condition.ABOVE, Condition.BELOW}
EDGE_CONDITIONS = {Condition.CROSSES_UP, Condition.CROSSES_DOWN, Condition.CROSSES}
PRICE_CONDITIONS = PRICE_LEVEL_CONDITIONS | EDGE_CONDITIONS
MOVEMENT_CONDITIONS = {Condition.PCT_UP, Condition.PCT_DOWN, Condition.PCT_MOVE}
METRIC_LEVEL_CONDITIONS = {
    Condition.MARKET_CAP_ABOVE,
    Condition.MARKET_CAP_BELOW,
    Condition.VOLUME_ABOVE,
    Condition.VOLUME_BELOW,
    Condition.CHANGE_ABOVE,
    Condition.CHANGE_BELOW,
}
METRIC_CONDITIONS = METRIC_LEVEL_CONDITIONS | {Condition.MARKET_CAP_CROSSES}
RANGE_CONDITIONS = {Condition.ENTERS_RANGE, Condition.EXITS_RANGE}
STEP_CONDITIONS = {Condition.PCT_STEP, Condition.PCT_STEP_UP, Condition.PCT_STEP_DOWN}
# Levels disarm when an every_time alert fires and re-arm once false again.
LEVEL_CONDITIONS = PRICE_LEVEL_CONDITIONS | METRIC_LEVEL_CONDITIONS
# The snapshot column (on Coin and in each batch row) a metric condition reads.
METRIC_OF = {
    Condition.MARKET_CAP_ABOVE: "market_cap",
    Condition.MARKET_CAP_BELOW: "market_cap",
    Condition.MARKET_CAP_CROSSES: "market_cap",
    Condition.VOLUME_ABOVE: "volume_24h",
    Condition.VOLUME_BELOW: "volume_24h",
    Condition.CHANGE_ABOVE: "change_24h_pct",
    Condition.CHANGE_BELOW: "change_24h_pct",
}


class Window(models.TextChoices):
    FIVE_MINUTES = "5m", "5 minutes"
    ONE_HOUR = "1h", "1 hour"
    ONE_DAY = "24h", "24 hours"


class Frequency(models.TextChoices):
    ONCE = "once", "Once"
    EVERY_TIME = "every_time", "Every time"


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    TRIGGERED = "triggered", "Triggered"
    EXPIRED = "expired", "Expired"


MAX_PERCENT = Decimal(1000)
HUNDRED = Decimal(100)
# A step down of 100 % would need a price of zero.
MAX_FALLING_STEP_PERCENT = Decimal(100)
STEP_DOWN_TOO_FAR = "A step down of 100% or more would need a price of zero: enter less than 100."
# Thresholds: market caps reach 1e13 (16 integer digits leave room), and a
# 24 h change may be negative, from just above -100 % up to this.
THRESHOLD_DIGITS = {"max_digits": 30, "decimal_places": 14}
MAX_CHANGE_PCT = Decimal(10000)
PRICE_INVALID = "Enter the price as a plain number, e.g. 30000 or 0.00012."
MIN_EVERY_TIME_COOLDOWN_SECONDS = 60
WINDOW_DURATIONS = {
    Window.FIVE_MINUTES: timedelta(minutes=5),
    Window.ONE_HOUR: timedelta(hours=1),
    Window.ONE_DAY: timedelta(hours=24),
}


# The form's and the API's answer to a coin id they do not know.
UNKNOWN_COIN_MESSAGE = "Choose a coin CryptoMonitor tracks."

# What the owner sets, through the form or the API; the rest is the evaluator's.
OWNER_FIELDS = (
    "coin",
    "currency",
    "condition",
    "target",
    "threshold",
    "range_low",
    "range_high",
    "percent",
    "window",
    "frequency",
    "cooldown_seconds",
    "channels",
    "expires_at",
    "note",
)


# The evaluator's record of a step alert's band (Alert.start_step, the claim).
STEP_FIELDS = ("step_reference", "step_reference_at", "step_low", "step_high")


def _text(value: Decimal | None) -> str:
    return "?" if value is None else decimal_text(value)


def _reached(condition: str, value: Decimal | None, bound: Decimal | None) -> bool:
    """Whether a level condition holds: value at or above (or below) bound."""
    if value is None or bound is None:
        return False
    return value >= bound if condition.endswith("above") else value <= bound


def default_channels() -> list[str]:
    return [Channel.EMAIL, Channel.IN_APP]


def validate_positive_price(value: Decimal) -> None:
    if not value.is_finite() or value <= 0:
        raise ValidationError("Enter a price above zero.", code="not_positive")


# The fields each kind of condition takes (any other one is refused), the
# message when one is missing, and the message when it is given to a
# condition that does not use it.
CONDITION_FIELDS = (
    (PRICE_CONDITIONS, ("target",)),
    (MOVEMENT_CONDITIONS, ("percent", "window")),
    (METRIC_CONDITIONS, ("threshold",)),
    (RANGE_CONDITIONS, ("range_low", "range_high")),
    (STEP_CONDITIONS, ("percent",)),
)
MISSING_MESSAGES = {
    "target": "Enter a target price.",
    "percent": "Enter a percentage.",
    "window": "Choose a window: 5 minutes, 1 hour or 24 hours.",
    "threshold": "Enter a threshold.",
    "range_low": "Enter the low price of the range.",
    "range_high": "Enter the high price of the range.",
}
UNUSED_MESSAGES = {
    "target": "A target price only applies to price alerts.",
    "percent": "A percentage only applies to movement and step alerts.",
    "window": "A window only applies to movement alerts.",
    "threshold": "A threshold only applies to market cap, volume and 24 h change alerts.",
    "range_low": "A range only applies to range alerts.",
    "range_high": "A range only applies to range alerts.",
}
# What a metric's threshold must be, the message when it is not, and the
# message when it is missing.
THRESHOLD_RULES = {
    "market_cap": (
        lambda value: value > 0,
        "Enter a market cap above zero.",
        "Enter a market cap.",
    ),
    "volume_24h": (
        lambda value: value > 0,
        "Enter a 24 h volume above zero.",
        "Enter a 24 h volume.",
    ),
    "change_24h_pct": (
        lambda value: -HUNDRED < value <= MAX_CHANGE_PCT,
        "Enter a 24 h change in percent above -100 and at most 10000, e.g. 10 or -5.",
        "Enter a 24 h change in percent.",
    ),
}


def used_fields(condition: str) -> tuple[str, ...]:
    """The parameters `condition` takes (target, percent, window, threshold, range)."""
    for conditions, fields in CONDITION_FIELDS:
        if condition in conditions:
            return fields
    return ()


def validate_percent(value: Decimal) -> None:
    if not value.is_finite() or not 0 < value <= MAX_PERCENT:
        raise ValidationError(
            "Enter a percentage above 0 and at most 1000.", code="percent_out_of_range"
        )


def validate_channels(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one channel.", code="no_channels")
    unknown = [item for item in value if item not in Channel.values]
    if unknown:
        raise ValidationError(
            "Unknown channel %(unknown)s; choose from %(known)s.",
            code="unknown_channel",
            params={"unknown": ", ".join(map(str, unknown)), "known": ", ".join(Channel.values)},
        )
    if len(set(value)) != len(value):
        raise ValidationError("List each channel only once.", code="duplicate_channel")


class Alert(models.Model):
    # No index of its own: alert_user_status_idx (user, status) serves every
    # lookup by user, and each index costs every firing an insertion (a
    # status change is never a HOT update).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts", db_index=False
    )
    coin = models.ForeignKey(
        Coin,
        on_delete=models.CASCADE,
        related_name="alerts",
        error_messages={"invalid": "This coin does not exist."},
    )
    condition = models.CharField(max_length=20, choices=Condition.choices)
    # The currency the alert's prices (target, range, step band, market cap
    # and volume thresholds) are in, and the one it is evaluated in: each
    # batch is converted to it with the current exchange rate, and not
    # evaluated while that rate is stale (docs/currencies.md#alerts-in-a-currency).
    currency = models.CharField(
        max_length=10, default=base_currency, validators=[validate_display_currency]
    )
    # Each condition's parameters: CONDITION_FIELDS.
    target = models.DecimalField(
        **PRICE_DIGITS,
        null=True,
        blank=True,
        validators=[validate_positive_price],
        error_messages={"invalid": PRICE_INVALID},
    )
    # A market cap or 24 h volume (quote currency) or a 24 h change (%, may
    # be negative), per THRESHOLD_RULES.
    threshold = models.DecimalField(
        **THRESHOLD_DIGITS,
        null=True,
        blank=True,
        error_messages={"invalid": "Enter the threshold as a plain number, e.g. 1000000000 or -5."},
    )
    range_low = models.DecimalField(
        **PRICE_DIGITS,
        null=True,
        blank=True,
        validators=[validate_positive_price],
        error_messages={"invalid": PRICE_INVALID},
    )
    range_high = models.DecimalField(
        **PRICE_DIGITS,
        null=True,
        blank=True,
        validators=[validate_positive_price],
        error_messages={"invalid": PRICE_INVALID},
    )
    percent = models.DecimalField(
        **PERCENT_DIGITS,
        null=True,
        blank=True,
        validators=[validate_percent],
        error_messages={"invalid": "Enter the percentage as a plain number, e.g. 5 or 2.5."},
    )
    window = models.CharField(max_length=3, choices=Window.choices, blank=True)
    note = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    frequency = models.CharField(max_length=20, choices=Frequency.choices, default=Frequency.ONCE)
    cooldown_seconds = models.PositiveIntegerField(default=3600)
    channels = models.JSONField(
        default=default_channels,
        validators=[validate_channels],
        error_messages={"blank": "Choose at least one channel."},
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # The status an expired alert had when it expired, so an edit that
    # revives it restores a pause (`revived_status`); blank otherwise, and on
    # alerts that expired before this was recorded (they revive active).
    # Blank by default in the database too: an INSERT that does not name it
    # (code from before it, a raw COPY) still works.
    expired_from = models.CharField(
        max_length=20,
        choices=[(Status.ACTIVE, Status.ACTIVE.label), (Status.PAUSED, Status.PAUSED.label)],
        blank=True,
        default="",
        db_default="",
    )
    # An every_time level alert disarms when it fires and re-arms once its
    # condition has been false again, so a price hovering at the target cannot
    # spam. Edge and movement alerts stay armed and rely on the cooldown.
    armed = models.BooleanField(default=True)
    # No firing before this time (cooldown of every_time alerts).
    cooldown_until = models.DateTimeField(null=True, blank=True)
    # A step alert's reference price and when it was taken (at a save, or
    # by the claim at each firing), and its band (alerts.steps): it fires at
    # a price at or below step_low or at or above step_high. NULL otherwise.
    step_reference = models.DecimalField(**PRICE_DIGITS, null=True, blank=True, editable=False)
    step_reference_at = models.DateTimeField(null=True, blank=True, editable=False)
    step_low = models.DecimalField(**PRICE_DIGITS, null=True, blank=True, editable=False)
    # Up to 11 times the reference (a step of 1000 %): wider than a price.
    step_high = models.DecimalField(**THRESHOLD_DIGITS, null=True, blank=True, editable=False)
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The matching query of alerts.evaluation: per coin and condition,
            # a range scan on the target or the percent over alerts that can
            # fire, so its cost grows with the matches, not with all alerts.
            models.Index(
                fields=["coin", "currency", "condition", "target"],
                name="alert_armed_target_idx",
                condition=models.Q(status="active", armed=True),
            ),
            models.Index(
                fields=["coin", "currency", "condition", "window", "percent"],
                name="alert_armed_percent_idx",
                condition=models.Q(status="active", armed=True),
            ),
            # The re-arm query of alerts.evaluation (disarmed level alerts).
            models.Index(
                fields=["coin", "currency", "condition", "target"],
                name="alert_disarmed_target_idx",
                condition=models.Q(status="active", armed=False),
            ),
            # The other conditions' probes, each partial on its conditions, so
            # no other alert has an entry to write: metric levels and crosses
            # (threshold), re-arming metric levels, ranges (a scan on each
            # bound, the other bound checked in the index) and steps (a scan
            # on each side of the band).
            models.Index(
                fields=["coin", "currency", "condition", "threshold"],
                name="alert_armed_threshold_idx",
                condition=models.Q(
                    status="active", armed=True, condition__in=sorted(METRIC_CONDITIONS)
                ),
            ),
            models.Index(
                fields=["coin", "currency", "condition", "threshold"],
                name="alert_disarmed_threshold_idx",
                condition=models.Q(
                    status="active", armed=False, condition__in=sorted(METRIC_LEVEL_CONDITIONS)
                ),
            ),
            models.Index(
                fields=["coin", "currency", "condition", "range_low", "range_high"],
                name="alert_armed_range_low_idx",
                condition=models.Q(
                    status="active", armed=True, condition__in=sorted(RANGE_CONDITIONS)
                ),
            ),
            models.Index(
                fields=["coin", "currency", "condition", "range_high", "range_low"],
                name="alert_armed_range_high_idx",
                condition=models.Q(
                    status="active", armed=True, condition__in=sorted(RANGE_CONDITIONS)
                ),
            ),
            # No condition column: a step probe asks for both conditions of
            # its side, which the predicate already implies, so the planner
            # drops that qual and a (coin, condition, step_low) index would be
            # scanned over every step of the coin, not over the range.
            models.Index(
                fields=["coin", "currency", "step_low"],
                name="alert_armed_step_low_idx",
                condition=models.Q(
                    status="active", armed=True, condition__in=sorted(steps.FALLING_STEPS)
                ),
            ),
            models.Index(
                fields=["coin", "currency", "step_high"],
                name="alert_armed_step_high_idx",
                condition=models.Q(
                    status="active", armed=True, condition__in=sorted(steps.RISING_STEPS)
                ),
            ),
            models.Index(fields=["user", "status"], name="alert_user_status_idx"),
            # The currencies active alerts are set in, read by a skip scan
            # before each batch (alerts.matching.evaluated_rates).
            models.Index(
                fields=["currency"],
                name="alert_active_currency_idx",
                condition=models.Q(status="active"),
            ),
            # alerts.tasks.expire_alerts.
            models.Index(
                fields=["expires_at"],
                name="alert_expiry_idx",
                condition=models.Q(status__in=["active", "paused"], expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coin.symbol.upper()} {self.describe()}"

    def save(self, *args, **kwargs) -> None:
        # Only step alerts have a band; a new one starts at the coin's price.
        if self.condition not in STEP_CONDITIONS:
            self.step_reference = self.step_reference_at = self.step_low = self.step_high = None
        elif self.step_reference is None:
            self.start_step()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("alerts:detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status == Status.ACTIVE

    @property
    def is_level(self) -> bool:
        return self.condition in LEVEL_CONDITIONS

    @property
    def is_movement(self) -> bool:
        return self.condition in MOVEMENT_CONDITIONS

    @property
    def is_metric(self) -> bool:
        return self.condition in METRIC_CONDITIONS

    @property
    def is_range(self) -> bool:
        return self.condition in RANGE_CONDITIONS

    @property
    def is_step(self) -> bool:
        return self.condition in STEP_CONDITIONS

    @property
    def steps_from_last_firing(self) -> bool:
        """Whether a step's reference is the price at its last firing (else at its save).

        The claim stamps both with the same time; REASON_SQL words it the same way.
        """
        return self.last_triggered_at is not None and (
            self.step_reference_at == self.last_triggered_at
        )

    def channel_labels(self) -> list[str]:
        """The channels as pages name them ("In-app", not in_app)."""
        return [Channel(channel).label for channel in self.channels]

    def describe(self) -> str:
        """The condition in words, e.g. "price crosses up through 30000"."""
        label = Condition(self.condition).label
        if self.condition in MOVEMENT_CONDITIONS:
            return f"{label} {decimal_text(self.percent)}% within {Window(self.window).label}"
        unit = self.currency_unit
        if self.condition in METRIC_CONDITIONS:
            if METRIC_OF[self.condition] == "change_24h_pct":
                unit = "%"
            return f"{label} {_text(self.threshold)}{unit}"
        if self.condition in RANGE_CONDITIONS:
            return f"{label} {_text(self.range_low)}–{_text(self.range_high)}{unit}"
        if self.condition in STEP_CONDITIONS:
            start = f" from {_text(self.step_reference)}{unit}" if self.step_reference else ""
            return f"{label} {_text(self.percent)}%{start}"
        return f"{label} {_text(self.target)}{unit}"

    @property
    def in_base_currency(self) -> bool:
        return self.currency == base_currency()

    @property
    def currency_unit(self) -> str:
        """What follows the alert's prices in words: nothing in the base, " EUR" else."""
        return currency_unit(self.currency)

    def in_own_currency(self, amount: Decimal | None, places: int = PRICE_PLACES) -> Decimal | None:
        """A price (or, with AMOUNT_PLACES, a market cap or volume) in the base, in the
        alert's currency at the current rate (prices.currencies.Rate.convert).

        None when there is no amount, or no usable rate (never fetched, or
        stale: then the alert is not evaluated either).
        """
        if amount is None or self.in_base_currency:
            return amount
        try:
            rate = usable_rate(self.currency)
        except (RateUnavailable, UnsupportedCurrency):
            return None
        return rate.convert(amount, places)

    def clean(self) -> None:
        """Cross-field rules; field validators have already run (docs/alerts.md#validation)."""
        errors: dict[str, list[str]] = {}
        for check in (
            self._check_parameters,
            self._check_coin_is_tracked,
            self._check_cooldown,
            self._check_expiry,
            self._check_active_cap,
            self._check_push_enabled,
        ):
            for field, message in check():
                errors.setdefault(field, []).append(message)
        if errors:
            raise ValidationError(errors)

    def _check_parameters(self) -> list[tuple[str, str]]:
        if self.condition not in Condition.values:
            return []  # An unknown condition is already reported by its field.
        used = used_fields(self.condition)
        given = {name for name in UNUSED_MESSAGES if getattr(self, name) not in (None, "")}
        problems = [(name, self._missing_message(name)) for name in used if name not in given]
        problems += [(name, UNUSED_MESSAGES[name]) for name in sorted(given - set(used))]
        return problems + self._check_values()

    def _missing_message(self, name: str) -> str:
        if name == "threshold":
            return THRESHOLD_RULES[METRIC_OF[self.condition]][2]
        return MISSING_MESSAGES[name]

    def _check_values(self) -> list[tuple[str, str]]:
        """Rules between a condition and its values, once each is a valid number.

        A value its field refused is left as it came (a string), already
        reported by the field: it is not judged again here.
        """
        threshold, low, high, percent = (
            value if isinstance(value, Decimal) else None
            for value in (self.threshold, self.range_low, self.range_high, self.percent)
        )
        if self.condition in METRIC_CONDITIONS and threshold is not None:
            holds, message, _ = THRESHOLD_RULES[METRIC_OF[self.condition]]
            return [] if holds(threshold) else [("threshold", message)]
        if self.condition in RANGE_CONDITIONS and None not in (low, high) and low >= high:
            return [("range_high", "Enter a high price above the low one.")]
        falling = self.condition in steps.FALLING_STEPS
        if falling and percent is not None and percent >= MAX_FALLING_STEP_PERCENT:
            return [("percent", STEP_DOWN_TOO_FAR)]
        return []

    def _check_coin_is_tracked(self) -> list[tuple[str, str]]:
        coin = Coin.objects.filter(pk=self.coin_id).first() if self.coin_id else None
        if coin is None:
            return []  # A missing coin is already reported by its field.
        if not coin.is_tracked:
            # Only tracked coins are polled: an alert on any other could never fire.
            return [("coin", f"{coin.name} is not tracked here, so its price never updates.")]
        if self.condition in STEP_CONDITIONS and coin.price is None:
            return [("coin", f"{coin.name} has no price yet, and a step starts from it.")]
        if coin.symbol.lower() == self.currency and not self.in_base_currency:
            # Bitcoin in BTC is 1, up to the rate's lag: such an alert fires on noise.
            return [("currency", f"{coin.name} is always 1 {coin.symbol.upper()}; choose "
                     "another currency.")]  # fmt: skip
        if self.condition in STEP_CONDITIONS and not self.in_base_currency:
            try:
                usable_rate(self.currency)
            except RateUnavailable as unavailable:
                return [
                    (
                        "currency",
                        f"A step starts from the price in {self.currency.upper()}, and "
                        f"{unavailable}; choose another currency or try again later.",
                    )
                ]
            except UnsupportedCurrency:
                return []  # already reported by the field
        return []

    def _check_cooldown(self) -> list[tuple[str, str]]:
        if self.frequency != Frequency.EVERY_TIME:
            return []
        if (self.cooldown_seconds or 0) < MIN_EVERY_TIME_COOLDOWN_SECONDS:
            return [("cooldown_seconds", "An alert that repeats needs a cooldown of 60 s or more.")]
        return []

    def _check_expiry(self) -> list[tuple[str, str]]:
        live = self.status in (Status.ACTIVE, Status.PAUSED)
        if live and self.expires_at is not None and self.expires_at <= timezone.now():
            return [("expires_at", "Choose an expiry in the future.")]
        return []

    def _check_active_cap(self) -> list[tuple[str, str]]:
        becomes_active = self.revives and self.revived_status == Status.ACTIVE
        if (self.status != Status.ACTIVE and not becomes_active) or self.user_id is None:
            return []
        if self.other_active_alerts().count() < self.active_cap():
            return []
        return [(NON_FIELD_ERRORS, self.cap_message())]

    def _check_push_enabled(self) -> list[tuple[str, str]]:
        return web_push_problems(self.user_id, self.channels)

    def other_active_alerts(self) -> models.QuerySet[Alert]:
        return Alert.objects.filter(user_id=self.user_id, status=Status.ACTIVE).exclude(pk=self.pk)

    @staticmethod
    def active_cap() -> int:
        return settings.ALERTS_MAX_ACTIVE_PER_USER

    def cap_message(self) -> str:
        return (
            f"You already have {self.active_cap()} active alerts, the most allowed: "
            "pause or delete one first."
        )

    def would_fire_at(self, price: Decimal | None) -> bool:
        """True when a price level alert is already true at `price` (it fires on the next tick)."""
        return self.condition in PRICE_LEVEL_CONDITIONS and _reached(
            self.condition, price, self.target
        )

    def would_fire_on(self, coin: Coin) -> bool:
        """True when a level alert is already true at the coin's latest snapshot.

        In the alert's currency at the current rate; a 24 h change is a percent in any.
        """
        if self.condition in METRIC_LEVEL_CONDITIONS:
            value = getattr(coin, METRIC_OF[self.condition])
            if METRIC_OF[self.condition] != "change_24h_pct":
                value = self.in_own_currency(value, AMOUNT_PLACES)
            return _reached(self.condition, value, self.threshold)
        return self.would_fire_at(self.in_own_currency(coin.price))

    def start_step(self, price: Decimal | None = None) -> None:
        """Take `price` (default: the coin's price now) as a step alert's reference, unsaved.

        `price` is in the alert's currency; the coin's is converted to it.
        Its band is alerts.steps.step_band's, the one the claim moves to
        each firing price; without a price there is no band (never fires).
        """
        if price is None:
            price = self.in_own_currency(
                Coin.objects.filter(pk=self.coin_id).values_list("price", flat=True).first()
            )
        self.step_reference, self.step_reference_at = price, timezone.now()
        self.step_low = self.step_high = None
        # As given, unsaved: a string from Alert.objects.create(percent="5").
        percent = self._meta.get_field("percent").to_python(self.percent)
        if price is not None and percent is not None:
            self.step_low, self.step_high = steps.step_band(self.condition, price, percent)

    def forget_firings(self) -> None:
        """Re-arm and end the cooldown, unsaved: new parameters make the old ones meaningless."""
        self.armed = True
        self.cooldown_until = None

    @property
    def revives(self) -> bool:
        """An expired alert given a future expiry (or none): save_edit revives it."""
        return (
            self.pk is not None
            and self.status == Status.EXPIRED
            and (self.expires_at is None or self.expires_at > timezone.now())
        )

    @property
    def revived_status(self) -> Status:
        """What a revival makes an expired alert: paused if it expired paused, else active."""
        return Status.PAUSED if self.expired_from == Status.PAUSED else Status.ACTIVE

    def save_edit(self) -> bool:
        """Save the owner's new parameters, re-armed and out of cooldown; True if revived.

        Only the owner's fields: a full save would write back the status and
        last firing time read before a concurrent evaluator fired the alert,
        so a once alert just triggered would turn active and fire again. An
        expired alert given a future expiry (or none) becomes active again,
        or paused if it was paused when it expired (`revives`,
        `revived_status`); the form and the API both save through here.
        Raises ValidationError when creating it, or reviving it active,
        would pass the cap: counted again under the user's cap lock
        (common.user_caps), so two requests at once cannot both pass it.
        """
        self.forget_firings()
        if self.condition in STEP_CONDITIONS:
            self.start_step()  # an edit starts the steps again from the price now
        if self.pk is None:
            with transaction.atomic():
                if self.status == Status.ACTIVE and self.user_id is not None:
                    hold_cap_lock("alerts.active", self.user_id)
                    if self.other_active_alerts().count() >= self.active_cap():
                        raise ValidationError(self.cap_message())
                self.save()
            return False
        fields = [*OWNER_FIELDS, *STEP_FIELDS, "armed", "cooldown_until", "updated_at"]
        with transaction.atomic():
            # Whether it revives is decided from the row as it is now, locked:
            # the expiry task may have expired it since the edit loaded it (it
            # then waits for us, and our new expiry stops it matching). FOR NO
            # KEY UPDATE, so an evaluator's events (FOR KEY SHARE) never wait.
            row = (
                Alert.objects.select_for_update(no_key=True)
                .filter(pk=self.pk)
                .values_list("status", "expired_from", "last_triggered_at")
                .first()
            )
            if row is not None:  # else deleted: the save below raises
                self.status, self.expired_from, self.last_triggered_at = row
            revives = self.revives
            if revives:
                if self.revived_status == Status.ACTIVE:
                    hold_cap_lock("alerts.active", self.user_id)
                if (
                    self.revived_status == Status.ACTIVE
                    and self.other_active_alerts().count() >= self.active_cap()
                ):
                    raise ValidationError(self.cap_message())
                self.status, self.expired_from = self.revived_status, ""
                fields += ["status", "expired_from"]
            self.save(update_fields=fields)
        return revives

    def pause(self) -> bool:
        """Stop evaluating the alert; False when it was not active."""
        return self._move(Status.ACTIVE, Status.PAUSED)

    def resume(self) -> bool:
        """Evaluate the alert again, re-armed and out of cooldown.

        Works on paused alerts and on triggered ones (re-arming a one-off
        alert); raises ValidationError when the user is at the active cap or
        the expiry has passed. False when the alert was in neither state.
        """
        if self.status not in (Status.PAUSED, Status.TRIGGERED):
            return False
        if self.expires_at is not None and self.expires_at <= timezone.now():
            raise ValidationError({"expires_at": "This alert has expired: set a new expiry."})
        with transaction.atomic():
            hold_cap_lock("alerts.active", self.user_id)  # see save_edit
            if self.other_active_alerts().count() >= self.active_cap():
                raise ValidationError(self.cap_message())
            return self._move(self.status, Status.ACTIVE, armed=True, cooldown_until=None)

    def _move(self, from_status: str, to_status: str, **changes: object) -> bool:
        # Conditional update: a concurrent evaluation that just fired the alert
        # wins, and we report that nothing changed.
        changed = Alert.objects.filter(pk=self.pk, status=from_status).update(
            status=to_status, updated_at=timezone.now(), **changes
        )
        if changed:
            self.refresh_from_db()
        return bool(changed)


class AlertEvent(models.Model):
    """One firing of an alert: written in the same transaction that claims it."""

    # No index of its own: alertevent_alert_idx (alert, -triggered_at) leads
    # with it, and the evaluator writes up to a thousand events a batch.
    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    # The coin the alert fired on. It can differ from the alert's coin later
    # (the owner may edit an alert onto another coin), so the database
    # constraint is this column's own guarantee.
    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="alert_events")
    # Retention deletes old ticks; the event keeps its own copy of the price.
    tick = models.ForeignKey(PriceTick, on_delete=models.SET_NULL, null=True, blank=True)
    # The prices the alert compared, in its currency: the tick's price (in
    # the base currency) times `exchange_rate`, the rate the batch was
    # converted with (1 in the base), so every message can be checked.
    price = models.DecimalField(**PRICE_DIGITS)
    previous_price = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    currency = models.CharField(max_length=10, default=base_currency)
    # Both have database defaults too (alerts 0010): the base and 1.
    exchange_rate = models.DecimalField(**RATE_DIGITS, default=Decimal(1), db_default=Decimal(1))
    reason = models.TextField()
    triggered_at = models.DateTimeField()

    class Meta:
        ordering = ["-triggered_at"]
        indexes = [models.Index(fields=["alert", "-triggered_at"], name="alertevent_alert_idx")]

    def __str__(self) -> str:
        return f"{self.alert_id} fired at {self.triggered_at:%Y-%m-%d %H:%M:%S}"
