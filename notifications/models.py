"""Deliveries (the outbox: one row per alert event and channel), in-app inbox, settings."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from alerts.models import AlertEvent, Channel


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One notification to send on one channel, and the record of every attempt.

    Written in the transaction that fires the alert, so a notification exists
    the moment its event does; delivery tasks and the sweeper claim rows with
    conditional updates on `status`.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Null for a "send test notification" delivery.
    event = models.ForeignKey(
        AlertEvent, on_delete=models.CASCADE, related_name="deliveries", null=True, blank=True
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # A pending delivery waits for this time before its next attempt (backoff).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A delivery still `sending` after this time belongs to a dead worker.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            # The sweeper's scan (notifications.tasks.sweep_deliveries).
            models.Index(
                fields=["status", "next_attempt_at"],
                name="delivery_unfinished_idx",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["user", "-created_at"], name="delivery_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery {self.pk} ({self.status})"


class InAppNotification(models.Model):
    """An entry in a user's notification inbox."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox"
    )
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, null=True, blank=True)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["user"], name="inapp_unread_idx", condition=models.Q(read_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return self.title


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


class NotificationSettings(models.Model):
    """Where a user's notifications go besides email (see accounts.Profile)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=128, default=new_webhook_secret)
    # One Apprise URL per line (tgram://…, slack://…, ntfy://…).
    apprise_urls = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.user}"

    @classmethod
    def for_user(cls, user) -> NotificationSettings:
        obj, _ = cls.objects.get_or_create(user=user)
        return obj

    def apprise_url_list(self) -> list[str]:
        return [line.strip() for line in self.apprise_urls.splitlines() if line.strip()]
