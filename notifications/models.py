"""Deliveries (the outbox: one row per alert event or summary and channel), inbox, settings."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from common.delivery_channels import Channel
from notifications.validation import (
    MAX_ENDPOINT_LENGTH,
    MAX_URL_LENGTH,
    apprise_url_errors,
    webhook_url_errors,
)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class EmailDigest(models.Model):
    """One email covering several alerts of one user that fired close together."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_digests"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Null until the SMTP server accepted it; a failed send leaves it null.
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # notifications.delivery: "when did this user last get a digest?"
            models.Index(fields=["user", "-sent_at"], name="emaildigest_user_sent_idx"),
        ]

    def __str__(self) -> str:
        return f"Email digest {self.pk} to {self.user}"


class DeliveryKind(models.TextChoices):
    """What a delivery carries: an alert's firing, a scheduled summary, or a test."""

    ALERT = "alert", "Alert"
    SUMMARY = "summary", "Summary"
    TEST = "test", "Test"


class DeliveryQuerySet(models.QuerySet):
    def tests(self) -> DeliveryQuerySet:
        """ "Send a test notification" rows: neither an alert event nor a summary."""
        return self.filter(event__isnull=True, summary__isnull=True)

    def claimable(self, now: datetime) -> DeliveryQuerySet:
        """Pending rows whose backoff (if any) has passed."""
        return self.filter(status=DeliveryStatus.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )

    def claim(self, now: datetime, token: str, **extra) -> int:
        """Move pending rows to `sending` under a lease and our token; return how many.

        One conditional UPDATE: under concurrency each row goes to exactly one
        caller, because PostgreSQL re-checks `status = 'pending'` after waiting
        for a competing update's row lock. The token tells the caller which
        rows are its own.
        """
        lease = timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS)
        return self.filter(status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SENDING,
            claim_token=token,
            lease_expires_at=now + lease,
            attempts=F("attempts") + 1,
            updated_at=now,
            **extra,
        )

    def claimed_by(self, token: str) -> DeliveryQuerySet:
        return self.filter(status=DeliveryStatus.SENDING, claim_token=token)

    def lease_expired(self, now: datetime) -> DeliveryQuerySet:
        return self.filter(status=DeliveryStatus.SENDING, lease_expires_at__lt=now)


class Delivery(models.Model):
    """One notification to send on one channel, and the record of every attempt.

    Written in the transaction that fires the alert, so a notification exists
    the moment its event does; delivery tasks and the sweeper claim rows with
    conditional updates on `status`.
    """

    # Whom it was sent to. No index of its own: delivery_user_idx (user,
    # -created_at) serves every lookup by user. The database constraint is
    # this column's own guarantee: nothing else
    # pins the user, since test deliveries have no alert and the admin can
    # move an alert to another user while its old deliveries keep theirs.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    # Null for a summary's or a "send test notification" delivery.
    # By name: alerts builds on notifications, so notifications imports nothing of it.
    event = models.ForeignKey(
        "alerts.AlertEvent",
        on_delete=models.CASCADE,
        related_name="deliveries",
        null=True,
        blank=True,
    )
    # Set on the deliveries of a scheduled summary (docs/summaries.md), whose
    # content notices.notice_for reads; by name, as `event`. Indexed by
    # delivery_summary_idx, only where set: alert firings never fill it.
    summary = models.ForeignKey(
        "summaries.SummaryOccurrence",
        on_delete=models.CASCADE,
        related_name="deliveries",
        null=True,
        blank=True,
        db_index=False,
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
    # Who claimed it last (notifications.delivery): outcomes are recorded only
    # by that claimant, never by a worker whose lease has been taken over.
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set when this email went out inside a digest with other alerts. Indexed
    # by delivery_digest_idx, only where set: most rows never join a digest.
    digest = models.ForeignKey(
        EmailDigest,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        null=True,
        blank=True,
        db_index=False,
    )

    objects = DeliveryQuerySet.as_manager()

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
            # The System status page's latest failures; partial, so only
            # rows that gave up are in it.
            models.Index(
                fields=["-updated_at"],
                name="delivery_failed_idx",
                condition=models.Q(status="failed"),
            ),
            # A digest's rows (notifications.delivery, and SET_NULL when a
            # digest is deleted); partial, so the evaluator's inserts skip it.
            models.Index(
                fields=["digest"],
                name="delivery_digest_idx",
                condition=models.Q(digest__isnull=False),
            ),
            # A summary's rows (CASCADE when a schedule is deleted); partial
            # for the same reason.
            models.Index(
                fields=["summary"],
                name="delivery_summary_idx",
                condition=models.Q(summary__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery {self.pk} ({self.status})"

    @property
    def kind(self) -> DeliveryKind:
        if self.event_id is not None:
            return DeliveryKind.ALERT
        if self.summary_id is not None:
            return DeliveryKind.SUMMARY
        return DeliveryKind.TEST

    @property
    def is_test(self) -> bool:
        return self.kind == DeliveryKind.TEST

    def _finish(self, **fields) -> bool:
        """Record an attempt's outcome, only if the row is still ours (`sending`)."""
        fields.setdefault("updated_at", timezone.now())
        done = (
            Delivery.objects.filter(pk=self.pk)
            .claimed_by(self.claim_token)
            .update(lease_expires_at=None, **fields)
        )
        for name, value in fields.items():
            setattr(self, name, value)
        return bool(done)

    def mark_sent(self, now: datetime, digest: EmailDigest | None = None) -> bool:
        return self._finish(status=DeliveryStatus.SENT, sent_at=now, last_error="", digest=digest)

    def mark_failed(self, error: str) -> bool:
        return self._finish(status=DeliveryStatus.FAILED, last_error=error[:2000])

    def mark_retry(self, error: str, next_attempt_at: datetime) -> bool:
        return self._finish(
            status=DeliveryStatus.PENDING,
            last_error=error[:2000],
            next_attempt_at=next_attempt_at,
            digest=None,
        )


class InAppNotificationQuerySet(models.QuerySet):
    def unread(self) -> InAppNotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def unread_first(self) -> InAppNotificationQuerySet:
        is_read = models.ExpressionWrapper(
            Q(read_at__isnull=False), output_field=models.BooleanField()
        )
        return self.alias(is_read=is_read).order_by("is_read", "-created_at")

    def mark_read(self) -> int:
        return self.unread().update(read_at=timezone.now())


class InAppNotification(models.Model):
    """An entry in a user's notification inbox."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox"
    )
    event = models.ForeignKey("alerts.AlertEvent", on_delete=models.CASCADE, null=True, blank=True)
    # The delivery that wrote this entry: a retried delivery never adds a second one.
    delivery = models.OneToOneField(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbox_entry"
    )
    title = models.CharField(max_length=200)
    url = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = InAppNotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The unread badge (notifications.context_processors).
            models.Index(
                fields=["user"], name="inapp_unread_idx", condition=models.Q(read_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_unread(self) -> bool:
        return self.read_at is None


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


class NotificationSettings(models.Model):
    """Where a user's notifications go besides email (see accounts.Profile)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    webhook_url = models.URLField(max_length=MAX_URL_LENGTH, blank=True)
    webhook_secret = models.CharField(max_length=128, default=new_webhook_secret)
    # One Apprise URL per line (tgram://…, slack://…, ntfy://…), at most
    # validation.MAX_APPRISE_URLS of them.
    apprise_urls = models.TextField(blank=True)
    # In-app popups chime (static/sounds/alert.wav) in the user's open pages.
    popup_sound = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.user}"

    @classmethod
    def for_user(cls, user) -> NotificationSettings:
        obj, _ = cls.objects.get_or_create(user=user)
        return obj

    def clean(self) -> None:
        """Refuse webhook and Apprise URLs we could never deliver to (syntax only).

        On the model so the settings page, the API (full_clean) and the admin
        agree; the rules are notifications.validation's.
        """
        errors = {}
        if self.webhook_url and (problems := webhook_url_errors(self.webhook_url)):
            errors["webhook_url"] = problems
        if problems := apprise_url_errors(self.apprise_url_list()):
            errors["apprise_urls"] = problems
        if errors:
            raise ValidationError(errors)

    def regenerate_webhook_secret(self) -> None:
        self.webhook_secret = new_webhook_secret()
        self.save(update_fields=["webhook_secret"])

    def apprise_url_list(self) -> list[str]:
        return [line.strip() for line in self.apprise_urls.splitlines() if line.strip()]


WEB_PUSH_NEEDS_A_BROWSER = (
    "Web Push needs a browser with push enabled: turn it on in Notification settings first."
)


def web_push_problems(user_id: int | None, channels: object) -> list[tuple[str, str]]:
    """Web Push among `channels` before any of the user's browsers enabled it: the error.

    The one rule for everything that picks channels (alerts, summaries).
    """
    if not isinstance(channels, list) or Channel.WEB_PUSH not in channels or user_id is None:
        return []
    if PushSubscription.objects.filter(user_id=user_id).exists():
        return []
    return [("channels", WEB_PUSH_NEEDS_A_BROWSER)]


def offered_channels(choices: list, user_id: int | None, chosen: object) -> list:
    """The channel choices to offer: Web Push once a browser has it (or it is already chosen)."""
    if isinstance(chosen, list) and Channel.WEB_PUSH in chosen:
        return choices
    if PushSubscription.objects.filter(user_id=user_id).exists():
        return choices
    return [choice for choice in choices if choice[0] != Channel.WEB_PUSH]


class PushSubscription(models.Model):
    """One browser where a user enabled Web Push: where the push service takes messages.

    The browser's PushSubscription (endpoint and keys) as it posted it; a
    browser subscribing again replaces its row, even from another account
    (the endpoint is that browser's). Deleted when the push service answers
    404 or 410: the browser unsubscribed or the subscription expired.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=MAX_ENDPOINT_LENGTH, unique=True)
    # The browser's P-256 public key (65 bytes) and auth secret (16 bytes), base64url.
    p256dh = models.CharField(max_length=100)
    auth = models.CharField(max_length=40)
    # "Firefox on Linux", from the User-Agent of the request that subscribed.
    browser = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.browser or 'A browser'} of {self.user}"

    def as_subscription_info(self) -> dict:
        """The subscription in the browser's JSON form, as pywebpush takes it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class VapidKey(models.Model):
    """The application server's VAPID key pair when none is set in the environment.

    One row (pk 1), created by the first process that needs it, so every
    web and worker process signs with the same key browsers subscribed with.
    """

    # The P-256 private key: its 32-byte scalar, base64url.
    private_key = models.CharField(max_length=60)
    # The uncompressed public point (65 bytes), base64url: applicationServerKey.
    public_key = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "VAPID key"

    def __str__(self) -> str:
        return f"VAPID key {self.public_key[:12]}…"
