"""Admin for summary schedules and the occurrences sent (read-only)."""

from __future__ import annotations

from django.contrib import admin

from summaries.models import SummaryOccurrence, SummarySchedule


@admin.register(SummarySchedule)
class SummaryScheduleAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "time_of_day", "days", "channels", "enabled", "updated_at"]
    list_filter = ["enabled", "days"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["due_from", "created_at", "updated_at"]

    def save_model(self, request, obj: SummarySchedule, form, change: bool) -> None:
        # As the owner's edits: a change never sends a time already past today.
        obj.save_edit()


@admin.register(SummaryOccurrence)
class SummaryOccurrenceAdmin(admin.ModelAdmin):
    """Each summary claimed; its deliveries are under Deliveries (kind: Summary)."""

    list_display = ["id", "schedule", "scheduled_for", "created_at"]
    search_fields = ["schedule__user__username"]
    list_select_related = ["schedule__user"]
    date_hierarchy = "scheduled_for"
    readonly_fields = ["schedule", "scheduled_for", "content", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
