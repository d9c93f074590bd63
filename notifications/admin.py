"""Admin for deliveries (read-only, with retry), inbox entries and settings."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models

from notifications.delivery import retry_deliveries
from notifications.models import (
    Delivery,
    EmailDigest,
    InAppNotification,
    NotificationSettings,
    PushSubscription,
)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "channel",
        "status",
        "attempts",
        "kind",
        "event",
        "summary",
        "sent_at",
        "created_at",
    ]
    list_filter = ["status", "channel"]
    search_fields = ["user__username", "user__email", "last_error"]
    list_select_related = ["user", "event", "summary"]
    date_hierarchy = "created_at"
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="kind")
    def kind(self, delivery: Delivery) -> str:
        return delivery.kind.label

    @admin.action(
        description="Retry the selected failed or pending deliveries", permissions=["view"]
    )
    def retry(self, request, queryset) -> None:
        count = retry_deliveries(queryset)
        self.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)


@admin.register(EmailDigest)
class EmailDigestAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "created_at", "sent_at", "message_id"]
    search_fields = ["user__username", "message_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(InAppNotification)
class InAppNotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "title", "created_at", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "title"]
    raw_id_fields = ["user", "event", "delivery"]


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "webhook_url"]
    search_fields = ["user__username", "webhook_url"]
    raw_id_fields = ["user"]
    exclude = ["webhook_secret"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Browsers with push enabled: staff may see and remove them, not make them."""

    list_display = ["id", "user", "browser", "created_at", "last_success_at"]
    search_fields = ["user__username", "browser"]
    list_select_related = ["user"]
    readonly_fields = ["user", "endpoint", "p256dh", "auth", "browser", "last_success_at"]

    def has_add_permission(self, request) -> bool:
        return False
