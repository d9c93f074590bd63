"""REST API of notifications: the caller's in-app inbox and the record of deliveries."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from common.api_filters import StrictBooleanFilter
from notifications.models import Delivery, DeliveryKind, InAppNotification

NOTIFICATION_EXAMPLE = {
    "id": 7,
    "title": "BTC is at or above 70000",
    "body": "Bitcoin reached 70012.3 at 06:01 UTC.",
    "event": 42,
    "created_at": "2026-11-21T06:01:02Z",
    "read_at": None,
}
DELIVERY_EXAMPLE = {
    "id": 12,
    "kind": "alert",
    "event": 42,
    "alert": 5,
    "summary": None,
    "channel": "email",
    "status": "sent",
    "attempts": 1,
    "last_error": "",
    "created_at": "2026-11-21T06:01:02Z",
    "next_attempt_at": None,
    "sent_at": "2026-11-21T06:01:03Z",
}


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = InAppNotification
        fields = ["id", "title", "body", "event", "created_at", "read_at"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(
        choices=DeliveryKind.choices,
        read_only=True,
        help_text="What it carries: an alert's firing (`event`), a scheduled summary "
        "(`summary`) or a test notification (neither).",
    )
    alert = serializers.IntegerField(
        source="event.alert_id", read_only=True, allow_null=True, help_text="The alert's id."
    )
    summary = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The scheduled summary's occurrence id."
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "kind",
            "event",
            "alert",
            "summary",
            "channel",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "next_attempt_at",
            "sent_at",
        ]
        read_only_fields = fields


class NotificationFilter(django_filters.FilterSet):
    unread = StrictBooleanFilter(
        field_name="read_at", lookup_expr="isnull", help_text="Only unread (true) or read (false)."
    )

    class Meta:
        model = InAppNotification
        fields = ["unread"]


class DeliveryFilter(django_filters.FilterSet):
    class Meta:
        model = Delivery
        fields = ["status", "channel"]


MARKED = inline_serializer("MarkedRead", {"marked": serializers.IntegerField()})


@extend_schema_view(
    list=extend_schema(
        summary="Your inbox",
        description="In-app notifications, newest first; `unread=true` for the unread ones.",
        examples=[OpenApiExample("A notification", value=NOTIFICATION_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One notification",
        description="One inbox entry.",
        examples=[OpenApiExample("Unread", value=NOTIFICATION_EXAMPLE, response_only=True)],
    ),
)
class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = InAppNotification.objects.none()  # for the schema only
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter

    def get_queryset(self) -> QuerySet[InAppNotification]:
        return InAppNotification.objects.filter(user=self.request.user).order_by(
            "-created_at", "-pk"
        )

    @extend_schema(
        summary="Mark one read",
        description="Mark a notification read; marking it again keeps the first read time.",
        request=None,
        responses=NotificationSerializer,
        examples=[
            OpenApiExample(
                "Read",
                value={**NOTIFICATION_EXAMPLE, "read_at": "2026-11-21T06:05:00Z"},
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def read(self, request: Request, pk: str) -> Response:
        notification = self.get_object()
        InAppNotification.objects.filter(pk=notification.pk).mark_read()
        notification.refresh_from_db()
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        summary="Mark all read",
        description="Mark every unread notification of yours read; answers how many changed.",
        request=None,
        responses=MARKED,
        examples=[OpenApiExample("Three marked", value={"marked": 3}, response_only=True)],
    )
    @action(detail=False, methods=["post"], url_path="read-all", filter_backends=[])
    def read_all(self, request: Request) -> Response:
        marked = self.get_queryset().mark_read()
        return Response({"marked": marked})


@extend_schema_view(
    list=extend_schema(
        summary="Your deliveries",
        description=(
            "Every notification sent or being sent to you, one per alert event, scheduled "
            "summary or test and channel, newest first; filter with `status` (pending, "
            "sending, sent, failed) and `channel`."
        ),
        examples=[OpenApiExample("An email sent", value=DELIVERY_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One delivery",
        description="One delivery and its attempts.",
        examples=[OpenApiExample("An email sent", value=DELIVERY_EXAMPLE, response_only=True)],
    ),
)
class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Delivery.objects.none()  # for the schema only
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter

    def get_queryset(self) -> QuerySet[Delivery]:
        return (
            Delivery.objects.filter(user=self.request.user)
            .select_related("event")
            .order_by("-created_at", "-pk")
        )
