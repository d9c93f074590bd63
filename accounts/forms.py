"""Forms for what a user edits about themselves beyond allauth's pages."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from django import forms

from accounts.models import Profile
from common.display_currencies import base_currency, currency_choices


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    # Computed once per process: available_timezones() walks the tz database.
    return [(name, name.replace("_", " ")) for name in sorted(available_timezones())]


class ProfileForm(forms.ModelForm):
    time_zone = forms.TypedChoiceField(choices=time_zone_choices, label="Time zone")
    # Not required: a form posted without it (an older page) keeps the choice.
    display_currency = forms.TypedChoiceField(
        choices=currency_choices, label="Display currency", required=False
    )

    class Meta:
        model = Profile
        fields = ["notification_email", "time_zone", "display_currency"]
        labels = {"notification_email": "Notification email"}
        help_texts = {
            "notification_email": (
                "Where alert emails go once you follow the link we mail to it. "
                "Leave blank to use your account email."
            ),
            "time_zone": "Dates and times on these pages are shown in this zone.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["display_currency"].help_text = (
            f"Prices on these pages are shown in this currency, converted from "
            f"{base_currency().upper()} with CoinGecko's exchange rates."
        )

    def clean_display_currency(self) -> str:
        return self.cleaned_data["display_currency"] or self.instance.display_currency
