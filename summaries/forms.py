"""The schedule form: the model's validation (SummarySchedule.full_clean), local times."""

from __future__ import annotations

from django import forms

from common.delivery_channels import Channel
from notifications.models import offered_channels
from summaries.models import OWNER_FIELDS, SummarySchedule


class SummaryScheduleForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one channel."},
    )

    class Meta:
        model = SummarySchedule
        fields = list(OWNER_FIELDS)
        labels = {"days": "On", "enabled": "Send this summary"}
        help_texts = {"enabled": "Untick to stop it for now and keep its settings."}
        widgets = {"time_of_day": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        zone = self.instance.zone().key
        self.fields["time_of_day"].label = f"Time ({zone})"
        self.fields["time_of_day"].help_text = (
            f"Hours and minutes in {zone}, your account's time zone: the summary follows it "
            "if you change it."
        )
        self._offer_web_push_once_enabled()

    def _offer_web_push_once_enabled(self) -> None:
        field = self.fields["channels"]
        field.choices = offered_channels(
            field.choices, self.instance.user_id, self.instance.channels
        )

    def save(self, commit: bool = True) -> SummarySchedule:
        self.instance.save_edit()
        return self.instance
