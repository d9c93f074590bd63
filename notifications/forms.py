"""The notification settings form: email address, webhook and Apprise URLs."""

from __future__ import annotations

from django import forms

from accounts.models import Profile
from notifications.models import NotificationSettings
from notifications.transports.apprise import refused_urls


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
        # NotificationSettings.clean() validates too (for the API); here tidy
        # the lines and name private servers as such, not as "not understood".
        urls = [
            url for line in self.cleaned_data["apprise_urls"].splitlines() if (url := line.strip())
        ]
        refused = refused_urls(urls)
        if refused:
            raise forms.ValidationError(f"We cannot send there: {'; '.join(refused)}.")
        return "\n".join(urls)

    def save(self, commit: bool = True) -> NotificationSettings:
        self.profile.notification_email = self.cleaned_data["notification_email"]
        self.profile.save(update_fields=["notification_email"])
        return super().save(commit=commit)
