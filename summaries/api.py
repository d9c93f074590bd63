"""REST API of summaries: the caller's schedules, CRUD.

Validation is the model's (SummarySchedule.clean() and its field
validators, which the web form runs too): the serializer builds the
schedule and calls full_clean(), so the API and the form never disagree.
"""

from __future__ import annotations

import copy
from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, viewsets

from common.api_errors import validation_error_from_django
from common.delivery_channels import Channel
from summaries.models import SummarySchedule

SCHEDULE_REQUEST_EXAMPLE = {
    "time_of_day": "08:00",
    "days": "weekdays",
    "channels": ["email", "in_app"],
    "enabled": True,
}
SCHEDULE_EXAMPLE = {
    "id": 3,
    **SCHEDULE_REQUEST_EXAMPLE,
    "time_zone": "Europe/Paris",
    "next_at": "2026-11-23T07:00:00Z",
    "created_at": "2026-11-21T06:00:00Z",
}
SCHEDULE_RESPONSE = OpenApiExample("A schedule", value=SCHEDULE_EXAMPLE, response_only=True)


@extend_schema_field(
    {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"}
)
class ClockTimeField(serializers.TimeField):
    """A local time of day as HH:MM (HH:MM:SS accepted): no date, no offset.

    Not OpenAPI's `time` format, which is RFC 3339's full-time and needs
    seconds and an offset: the offset is the owner's time zone.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)


class SummaryScheduleSerializer(serializers.ModelSerializer):
    time_of_day = ClockTimeField(
        help_text="Local time, HH:MM, in `time_zone` (your profile's); seconds are dropped.",
    )
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices),
        required=False,
        help_text="Where to send it. Default: email and in_app. web_push needs a browser with "
        "push enabled (notification settings page).",
    )
    time_zone = serializers.SerializerMethodField(
        help_text="The zone `time_of_day` is read in: your profile's `time_zone` (/api/v1/me/), "
        "followed when you change it."
    )
    next_at = serializers.SerializerMethodField(
        help_text="When the next summary is due (UTC); null while `enabled` is false."
    )

    class Meta:
        model = SummarySchedule
        fields = [
            "id",
            "time_of_day",
            "days",
            "channels",
            "enabled",
            "time_zone",
            "next_at",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "days": {"help_text": "`daily`, or `weekdays` (Monday to Friday in `time_zone`)."},
            "enabled": {"help_text": "false stops it and keeps its settings."},
        }

    def get_time_zone(self, schedule: SummarySchedule) -> str:
        return schedule.zone().key

    def get_next_at(self, schedule: SummarySchedule) -> datetime | None:
        return schedule.next_at()

    def validate(self, attrs: dict) -> dict:
        """Run the model's own validation on the schedule as it would be saved."""
        if self.instance is not None:
            schedule = copy.copy(self.instance)
        else:
            schedule = SummarySchedule(user=self.context["request"].user)
        for name, value in attrs.items():
            setattr(schedule, name, value)
        try:
            schedule.full_clean()
        except DjangoValidationError as error:
            raise validation_error_from_django(error) from error
        self._clean_schedule = schedule
        return attrs

    def create(self, validated_data: dict) -> SummarySchedule:
        self._clean_schedule.save_edit()
        return self._clean_schedule

    def update(self, instance: SummarySchedule, validated_data: dict) -> SummarySchedule:
        self._clean_schedule.save_edit()
        return self._clean_schedule


@extend_schema_view(
    list=extend_schema(
        summary="Your summaries",
        description=(
            "The caller's scheduled summaries: their watchlist (price, 24 h change) and "
            "their active alerts' distance to target, at `time_of_day` in their time zone."
        ),
        examples=[SCHEDULE_RESPONSE],
    ),
    create=extend_schema(
        summary="Schedule a summary",
        description=(
            "At most SUMMARIES_MAX_PER_USER (default 5) per user. Validated exactly like "
            "the web form; errors are listed per field."
        ),
        examples=[
            OpenApiExample("Weekdays at 08:00", value=SCHEDULE_REQUEST_EXAMPLE, request_only=True),
            SCHEDULE_RESPONSE,
        ],
    ),
    retrieve=extend_schema(
        summary="One summary",
        description="One of the caller's schedules; another user's is a 404.",
        examples=[SCHEDULE_RESPONSE],
    ),
    update=extend_schema(
        summary="Replace a summary",
        description=(
            "Send `time_of_day`; the fields left out keep their values. A change never sends "
            "a summary for a time already past today."
        ),
        examples=[
            OpenApiExample("Weekdays at 08:00", value=SCHEDULE_REQUEST_EXAMPLE, request_only=True),
            SCHEDULE_RESPONSE,
        ],
    ),
    partial_update=extend_schema(
        summary="Change a summary",
        description='Change some fields, e.g. `{"enabled": false}` to stop it.',
        examples=[
            OpenApiExample("Stop it", value={"enabled": False}, request_only=True),
            SCHEDULE_RESPONSE,
        ],
    ),
    destroy=extend_schema(
        summary="Delete a summary", description="Delete it and its record of sent summaries."
    ),
)
class SummaryScheduleViewSet(viewsets.ModelViewSet):
    queryset = SummarySchedule.objects.none()  # for the schema; get_queryset() scopes it
    serializer_class = SummaryScheduleSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[SummarySchedule]:
        return SummarySchedule.objects.filter(user=self.request.user).select_related(
            "user__profile"
        )
