"""The notification settings form: email address, webhook and Apprise URLs."""

from __future__ import annotations

from django import forms
from django.db import transaction

from accounts.models import Profile
from notifications.models import NotificationSettings
from notifications.validation import MAX_APPRISE_URLS, MAX_URL_LENGTH


class NotificationSettingsForm(forms.ModelForm):
    notification_email = forms.EmailField(
        required=False,
        label="Email for alerts",
        help_text="Leave blank to use your account's address.",
    )

    webhook_url = forms.URLField(
        required=False,
        max_length=MAX_URL_LENGTH,
        assume_scheme="https",
        label="Webhook URL",
        help_text="We POST JSON here, signed in the X-CryptoMonitor-Signature header.",
    )

    class Meta:
        model = NotificationSettings
        fields = ["webhook_url", "apprise_urls", "popup_sound"]
        labels = {
            "apprise_urls": "Apprise URLs",
            "popup_sound": "Play a sound with in-app popups",
        }
        help_texts = {
            "popup_sound": "A short chime in your open CryptoMonitor pages when an alert fires.",
            "apprise_urls": (
                f"One per line, at most {MAX_APPRISE_URLS}, "
                "e.g. tgram://bottoken/ChatID or ntfy://topic."
            ),
        }
        widgets = {"apprise_urls": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, profile: Profile, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.fields["notification_email"].initial = profile.notification_email

    def clean_apprise_urls(self) -> str:
        # Tidy the lines; NotificationSettings.clean() validates them.
        return "\n".join(
            url for line in self.cleaned_data["apprise_urls"].splitlines() if (url := line.strip())
        )

    def save(self, commit: bool = True) -> NotificationSettings:
        # Validated already (is_valid): the transaction only writes.
        with transaction.atomic():
            self.profile.notification_email = self.cleaned_data["notification_email"]
            self.profile.save(update_fields=["notification_email"])
            return super().save(commit=commit)
