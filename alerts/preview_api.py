"""POST /api/v1/alerts/preview/: how often an alert would have fired, nothing saved.

The body is a create's (alerts.api.AlertSerializer validates it, the model's
own rules, so the errors are the create's); alerts.preview replays the
history. Throttled by the `alert_preview` rate besides the user's.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from alerts.api import ALERT_REQUEST_EXAMPLE, AlertSerializer, PlainDecimalField
from alerts.models import Alert
from alerts.preview import (
    MAX_FIRINGS,
    MAX_REPLAYED_FIRINGS,
    PERIODS,
    PREVIEW_DAYS,
    Preview,
    preview,
)
from prices.currencies import RateUnavailable
from prices.models import PRICE_DIGITS


class PreviewPointSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    price = PlainDecimalField(**PRICE_DIGITS)


class PreviewSerializer(serializers.Serializer):
    fired_24h = serializers.IntegerField(help_text="Firings in the last 24 hours.")
    fired_7d = serializers.IntegerField(help_text="Firings in the last 7 days.")
    fired_30d = serializers.IntegerField(help_text="Firings in the last 30 days.")
    currency = serializers.CharField(
        help_text="The alert's currency: every price here is in it (history converted with "
        "the current rate)."
    )
    firings = PreviewPointSerializer(
        many=True, help_text=f"The newest firings first, at most {MAX_FIRINGS}."
    )
    to = serializers.DateTimeField(help_text="The end of the replayed history: now.")
    resolution = serializers.ChoiceField(
        choices=["ticks", "1m+ticks", "1m"],
        help_text="What was replayed: raw ticks, minute closes then ticks (beyond the ticks' "
        "retention), or minute closes only.",
    )
    ticks_from = serializers.DateTimeField(
        allow_null=True, help_text="Where the raw ticks begin; null when none was replayed."
    )
    history_seconds = serializers.IntegerField(help_text="How much history was replayed.")
    note = serializers.CharField(
        allow_blank=True,
        help_text="Blank, or why the replay is shorter than 30 days (too little history) "
        "or stopped early (too many firings).",
    )
    capped = serializers.BooleanField(
        help_text=f"The replay stopped at its {MAX_REPLAYED_FIRINGS}th firing: the counts are "
        "lower bounds and the firings listed are not the newest."
    )
    chart = PreviewPointSerializer(
        many=True, help_text="The coin's closes over the replayed history, for a small chart."
    )

    def get_fields(self) -> dict:
        # `from` is a Python keyword: added here under its name.
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(
            source="from_at",
            allow_null=True,
            help_text="The start of the replayed history; null when there is none.",
        )
        return fields


def _duration_text(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    if hours < 1:
        minutes = max(1, int(span.total_seconds() // 60))
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} days"


def preview_note(result: Preview) -> str:
    """Why the replay covers less than PREVIEW_DAYS, in words; blank when it does not."""
    if result.from_at is None:
        return "No price history for this coin yet: there is nothing to replay."
    if result.capped:
        last = result.firings[-1].time
        return (
            f"It would have fired more than {MAX_REPLAYED_FIRINGS} times (the "
            f"{MAX_REPLAYED_FIRINGS}th on {last:%Y-%m-%d %H:%M} UTC): the replay stopped there, "
            "so the counts are at least these."
        )
    if not result.short:
        return ""
    return (
        f"Only {_duration_text(result.covered)} of history: showing what it would have "
        "done in that time."
    )


def preview_body(result: Preview, currency: str) -> dict:
    newest = list(reversed(result.firings[-MAX_FIRINGS:]))
    counts = {f"fired_{name}": result.fired_within(span) for name, span in PERIODS}
    return {
        **counts,
        "currency": currency,
        "firings": [{"time": f.time, "price": f.price} for f in newest],
        "from_at": result.from_at,
        "to": result.to_at,
        "resolution": result.resolution,
        "ticks_from": result.ticks_from,
        "history_seconds": int(result.covered.total_seconds()),
        "note": preview_note(result),
        "capped": result.capped,
        "chart": [{"time": time, "price": price} for time, price in result.chart],
    }


PREVIEW_EXAMPLE = {
    "fired_24h": 1,
    "fired_7d": 3,
    "fired_30d": 9,
    "currency": "usd",
    "firings": [{"time": "2026-11-21T05:40:10Z", "price": "70012.3"}],
    "from": "2026-10-22T06:00:00Z",
    "to": "2026-11-21T06:00:00Z",
    "resolution": "ticks",
    "ticks_from": "2026-10-22T06:00:04Z",
    "history_seconds": 2592000,
    "note": "",
    "capped": False,
    "chart": [{"time": "2026-11-21T05:00:00Z", "price": "69950.1"}],
}


ALERT_PARAMETER = OpenApiParameter(
    "alert",
    int,
    description="One of your alerts being edited: the body is validated as its replacement "
    "(PUT), so it does not count against your cap of active alerts a second time. Another "
    "user's alert is a 404.",
)


class AlertPreviewView(GenericAPIView):
    serializer_class = AlertSerializer
    throttle_scope = "alert_preview"

    @extend_schema(
        summary="Preview an alert",
        description=(
            "How often this alert would have fired over the last "
            f"{PREVIEW_DAYS} days of its coin's stored prices, with the live rules "
            "(frequency, cooldown, re-arm, expiry). The body is a create's and is validated "
            "like one (the same errors); nothing is saved. Raw ticks are replayed where they "
            "are kept, minute closes before (`resolution`). Throttled by the `alert_preview` "
            "rate besides your own."
        ),
        request=AlertSerializer,
        parameters=[ALERT_PARAMETER],
        responses={200: PreviewSerializer},
        examples=[
            OpenApiExample("Price above", value=ALERT_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("A preview", value=PREVIEW_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        edited = self._edited_alert(request)
        serializer = self.get_serializer(edited, data=request.data)
        serializer.is_valid(raise_exception=True)
        # The alert the serializer validated (AlertSerializer.validate), unsaved.
        alert = copy.copy(edited) if edited else Alert(user=request.user)
        for name, value in serializer.validated_data.items():
            setattr(alert, name, value)
        try:
            replayed = preview(alert)
        except RateUnavailable as unavailable:
            # Live evaluation would not evaluate it either (docs/currencies.md).
            raise serializers.ValidationError(
                {"currency": [f"Cannot replay in {alert.currency.upper()}: {unavailable}."]}
            ) from unavailable
        return Response(PreviewSerializer(preview_body(replayed, alert.currency)).data)

    def _edited_alert(self, request: Request) -> Alert | None:
        """The caller's alert named by ?alert=, validated as its edit; None without it."""
        key = request.query_params.get("alert")
        if key is None:
            return None
        # ASCII digits that fit the id column (a longer number is no alert's).
        if not (key.isascii() and key.isdigit()) or len(key) > 18:
            raise serializers.ValidationError({"alert": ["Enter the id of one of your alerts."]})
        return get_object_or_404(Alert.objects.filter(user=request.user), pk=int(key))
