"""Admin for alerts (filters, search, pause/resume/test actions) and their read-only events."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from alerts.models import OWNER_FIELDS, STEP_FIELDS, Alert, AlertEvent, Status
from common.display_currencies import currency_choices
from notifications.delivery import TooManyTestSends, send_test_notifications


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "coin",
        "currency",
        "describe",
        "status",
        "frequency",
        "armed",
        "last_triggered_at",
    ]
    list_filter = ["status", "condition", "currency", "frequency", "coin"]
    search_fields = ["user__username", "user__email", "coin__coingecko_id", "coin__symbol"]
    list_select_related = ["user", "coin"]
    raw_id_fields = ["user"]
    readonly_fields = [
        "expired_from",
        "armed",
        "cooldown_until",
        *STEP_FIELDS,
        "last_triggered_at",
        "created_at",
        "updated_at",
    ]
    actions = ["pause", "resume", "send_test_notification"]

    @admin.display(description="condition")
    def describe(self, alert: Alert) -> str:
        return alert.describe()

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        # A menu of the display currencies, as on the owner's form.
        if db_field.name == "currency":
            return forms.ChoiceField(choices=currency_choices(), label="Currency")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Alert, form, change: bool) -> None:
        # A status set by hand: record what an expiry expired from, as
        # expire_alerts does, so an edit that revives the alert restores it.
        if change and "status" in form.changed_data:
            was = form.initial["status"]
            expired = obj.status == Status.EXPIRED and was in (Status.ACTIVE, Status.PAUSED)
            obj.expired_from = was if expired else ""
        # An edit starts a step alert's steps again from the price now, as
        # the owner's edit does (Alert.save_edit); a new one starts in save().
        if change and obj.is_step and set(form.changed_data) & set(OWNER_FIELDS):
            obj.start_step()
        super().save_model(request, obj, form, change)

    @admin.action(description="Pause selected alerts")
    def pause(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        paused = queryset.filter(status=Status.ACTIVE).update(
            status=Status.PAUSED, updated_at=timezone.now()
        )
        self.message_user(request, f"Paused {paused} alert(s).")

    @admin.action(description="Resume / re-arm selected alerts")
    def resume(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        # One by one: each resume checks its owner's cap of active alerts.
        resumed, refused = 0, []
        for alert in queryset:
            try:
                resumed += alert.resume()
            except ValidationError as error:
                refused.append(f"#{alert.pk}: {' '.join(error.messages)}")
        self.message_user(request, f"Resumed {resumed} alert(s).")
        if refused:
            self.message_user(request, "Not resumed: " + "; ".join(refused), messages.WARNING)

    @admin.action(description="Send a test notification on each channel")
    def send_test_notification(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        # Each alert counts against its owner's test sends per minute, as
        # the owner's own button does: staff cannot mail-bomb an address either.
        sent, refused = 0, []
        for alert in queryset.select_related("user"):
            try:
                sent += len(send_test_notifications(alert.user, alert.channels))
            except TooManyTestSends as limit:
                refused.append(f"#{alert.pk}: {limit}")
        self.message_user(request, f"Queued {sent} test notification(s).")
        if refused:
            self.message_user(request, "Not sent: " + "; ".join(refused), messages.WARNING)


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin):
    # Prices in the event's currency, converted from the base with exchange_rate.
    list_display = [
        "id",
        "alert",
        "coin",
        "price",
        "previous_price",
        "currency",
        "exchange_rate",
        "triggered_at",
    ]
    list_filter = ["currency", "coin"]
    search_fields = ["alert__user__username", "coin__coingecko_id", "reason"]
    list_select_related = ["alert__coin", "coin"]
    date_hierarchy = "triggered_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AlertEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AlertEvent | None = None) -> bool:
        return False
