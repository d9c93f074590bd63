"""Profiles in the admin: whether the notification address is confirmed, and a way to ask."""

from __future__ import annotations

from django.contrib import admin, messages

from accounts import confirmation
from accounts.models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "notification_email", "confirmed", "time_zone"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "notification_email"]
    # Set only by following the mailed link: an address the admin types in is
    # unconfirmed until its owner follows the link the action below mails.
    readonly_fields = ["confirmed_notification_email"]
    actions = ["send_confirmation"]

    @admin.display(boolean=True, description="Notification address confirmed")
    def confirmed(self, profile: Profile) -> bool | None:
        return profile.notification_email_confirmed if profile.notification_email else None

    @admin.action(description="Mail the confirmation link to the notification address")
    def send_confirmation(self, request, queryset) -> None:
        sent = sum(confirmation.send_link(request, profile) for profile in queryset)
        self.message_user(
            request,
            f"Mailed {sent} link(s); unconfirmed addresses mailed in the last few minutes "
            "and confirmed or blank ones were skipped.",
            messages.SUCCESS if sent else messages.WARNING,
        )
