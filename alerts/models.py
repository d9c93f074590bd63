"""Price alerts and the events that record each time one fired."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from prices.models import PERCENT_DIGITS, PRICE_DIGITS, Coin, PriceTick


class Condition(models.TextChoices):
    ABOVE = "above", "price is at or above"
    BELOW = "below", "price is at or below"
    CROSSES_UP = "crosses_up", "price crosses up through"
    CROSSES_DOWN = "crosses_down", "price crosses down through"
    CROSSES = "crosses", "price crosses"
    PCT_UP = "pct_up", "price rises by"
    PCT_DOWN = "pct_down", "price falls by"
    PCT_MOVE = "pct_move", "price moves by"


LEVEL_CONDITIONS = {Condition.ABOVE, Condition.BELOW}
EDGE_CONDITIONS = {Condition.CROSSES_UP, Condition.CROSSES_DOWN, Condition.CROSSES}
PRICE_CONDITIONS = LEVEL_CONDITIONS | EDGE_CONDITIONS
MOVEMENT_CONDITIONS = {Condition.PCT_UP, Condition.PCT_DOWN, Condition.PCT_MOVE}


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


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    IN_APP = "in_app", "In-app"
    WEBHOOK = "webhook", "Webhook"
    APPRISE = "apprise", "Apprise"


def default_channels() -> list[str]:
    return [Channel.EMAIL, Channel.IN_APP]


class Alert(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts"
    )
    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="alerts")
    condition = models.CharField(max_length=20, choices=Condition.choices)
    # Price conditions use `target`; movement conditions use `percent` and `window`.
    target = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    percent = models.DecimalField(**PERCENT_DIGITS, null=True, blank=True)
    window = models.CharField(max_length=3, choices=Window.choices, blank=True)
    note = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    frequency = models.CharField(max_length=20, choices=Frequency.choices, default=Frequency.ONCE)
    cooldown_seconds = models.PositiveIntegerField(default=3600)
    channels = models.JSONField(default=default_channels)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # An every_time alert disarms when it fires and re-arms once its condition
    # has been false again, so a price hovering at the target cannot spam.
    armed = models.BooleanField(default=True)
    # No firing before this time (cooldown of every_time alerts).
    cooldown_until = models.DateTimeField(null=True, blank=True)
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Serve the set-based matching in alerts.evaluation: per coin and
            # condition, a range scan on the target or the percent, active only.
            models.Index(
                fields=["coin", "condition", "target"],
                name="alert_active_target_idx",
                condition=models.Q(status="active"),
            ),
            models.Index(
                fields=["coin", "condition", "window", "percent"],
                name="alert_active_percent_idx",
                condition=models.Q(status="active"),
            ),
            models.Index(fields=["user", "status"], name="alert_user_status_idx"),
            models.Index(
                fields=["expires_at"],
                name="alert_expiry_idx",
                condition=models.Q(status__in=["active", "paused"], expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coin.symbol.upper()} {self.describe()}"

    def get_absolute_url(self) -> str:
        return reverse("alerts:detail", args=[self.pk])

    def describe(self) -> str:
        """The condition in words, e.g. "price crosses up through 30000"."""
        label = Condition(self.condition).label
        if self.condition in MOVEMENT_CONDITIONS:
            return f"{label} {self.percent.normalize():f}% within {Window(self.window).label}"
        return f"{label} {self.target.normalize():f}"


class AlertEvent(models.Model):
    """One firing of an alert: written in the same transaction that claims it."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="alert_events")
    # Retention deletes old ticks; the event keeps its own copy of the price.
    tick = models.ForeignKey(PriceTick, on_delete=models.SET_NULL, null=True, blank=True)
    price = models.DecimalField(**PRICE_DIGITS)
    previous_price = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    reason = models.TextField()
    triggered_at = models.DateTimeField()

    class Meta:
        ordering = ["-triggered_at"]
        indexes = [models.Index(fields=["alert", "-triggered_at"], name="alertevent_alert_idx")]

    def __str__(self) -> str:
        return f"{self.alert_id} fired at {self.triggered_at:%Y-%m-%d %H:%M:%S}"
