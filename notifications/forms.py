"""The notification settings form: email address, webhook and Apprise URLs."""

from __future__ import annotations

from django import forms

from accounts.models import Profile
from notifications.models import NotificationSettings


class NotificationSettingsForm(forms.ModelForm):
    notification_email = forms.EmailField(
        required=False,
        label="Email for alerts",
        help_text="Leave blank to use your account's address.",
    )

    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Webhook URL",
        help_text="We POST JSON here, signed in the X-CryptoMonitor-Signature header.",
    )

    class Meta:
        model = NotificationSettings
        fields = ["webhook_url", "apprise_urls"]
        labels = {"apprise_urls": "Apprise URLs"}
        help_texts = {
            "apprise_urls": "One per line, e.g. tgram://bottoken/ChatID or ntfy://topic.",
        }
        widgets = {"apprise_urls": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, profile: Profile, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.fields["notification_email"].initial = profile.notification_email

    def clean_apprise_urls(self) -> str:
        # Validation is NotificationSettings.clean()'s; here only tidy the lines.
        urls = [line.strip() for line in self.cleaned_data["apprise_urls"].splitlines()]
        return "\n".join(url for url in urls if url)

    def save(self, commit: bool = True) -> NotificationSettings:
        self.profile.notification_email = self.cleaned_data["notification_email"]
        self.profile.save(update_fields=["notification_email"])
        return super().save(commit=commit)
