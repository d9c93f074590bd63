"""Forms for what a user edits about themselves beyond allauth's pages."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from django import forms

from accounts.models import Profile


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    # Computed once per process: available_timezones() walks the tz database.
    return [(name, name.replace("_", " ")) for name in sorted(available_timezones())]


class ProfileForm(forms.ModelForm):
    time_zone = forms.TypedChoiceField(choices=time_zone_choices, label="Time zone")

    class Meta:
        model = Profile
        fields = ["notification_email", "time_zone"]
        labels = {"notification_email": "Notification email"}
        help_texts = {
            "notification_email": (
                "Where alert emails go once you follow the link we mail to it. "
                "Leave blank to use your account email."
            ),
            "time_zone": "Dates and times on these pages are shown in this zone.",
        }
