"""REST API of alerts: CRUD scoped to the caller, pause/resume, and firing history.

Validation is the model's (Alert.clean() and its field validators, the same
code the web form runs): the serializer builds the Alert and calls
full_clean(), so the API and the form can never disagree.
"""

from __future__ import annotations

import copy
from decimal import Decimal

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from alerts.currency_status import paused_currencies
from alerts.models import UNKNOWN_COIN_MESSAGE, Alert, AlertEvent, Status
from common.api_cache import ConditionalListMixin, ValidatorQuery, row_digest
from common.api_errors import (
    Conflict,
    ErrorSerializer,
    error_body,
    validation_error_from_django,
)
from common.delivery_channels import Channel
from common.display_currencies import base_currency, display_currencies
from prices.api import CoinIdField
from prices.currencies import stale_before
from prices.models import Coin, ExchangeRate, decimal_text

ALERT_REQUEST_EXAMPLE = {
    "coin": "bitcoin",
    "condition": "above",
    "target": "70000",
    "frequency": "once",
    "channels": ["email", "in_app"],
    "note": "Take profit",
}
MOVEMENT_REQUEST_EXAMPLE = {
    "coin": "ethereum",
    "condition": "pct_down",
    "percent": "5",
    "window": "1h",
    "frequency": "every_time",
    "cooldown_seconds": 3600,
    "channels": ["in_app"],
}
MARKET_CAP_REQUEST_EXAMPLE = {
    "coin": "bitcoin",
    "condition": "market_cap_above",
    "threshold": "2000000000000",
    "channels": ["email"],
}
EURO_REQUEST_EXAMPLE = {
    "coin": "bitcoin",
    "currency": "eur",
    "condition": "below",
    "target": "55000",
    "channels": ["email"],
}
CHANGE_REQUEST_EXAMPLE = {
    "coin": "solana",
    "condition": "change_24h_below",
    "threshold": "-5",
    "frequency": "every_time",
    "cooldown_seconds": 86400,
    "channels": ["in_app"],
}
RANGE_REQUEST_EXAMPLE = {
    "coin": "bitcoin",
    "condition": "enters_range",
    "range_low": "30000",
    "range_high": "31000",
    "channels": ["in_app"],
}
STEP_REQUEST_EXAMPLE = {
    "coin": "ethereum",
    "condition": "pct_step",
    "percent": "5",
    "frequency": "every_time",
    "cooldown_seconds": 600,
    "channels": ["in_app"],
}
# What the owner does not set: null on a condition that does not use them.
NOT_SET = {
    "target": None,
    "threshold": None,
    "range_low": None,
    "range_high": None,
    "percent": None,
    "window": "",
    "step_reference": None,
    "step_low": None,
    "step_high": None,
}
ALERT_EXAMPLE = {
    "id": 42,
    **NOT_SET,
    "currency": "usd",
    **ALERT_REQUEST_EXAMPLE,
    "cooldown_seconds": 3600,
    "expires_at": None,
    "status": "active",
    "expired_from": "",
    "description": "price is at or above 70000",
    "waiting_for_rate": False,
    "last_triggered_at": None,
    "created_at": "2026-11-21T06:00:00Z",
}
STEP_EXAMPLE = {
    **ALERT_EXAMPLE,
    "id": 43,
    **NOT_SET,
    **STEP_REQUEST_EXAMPLE,
    "note": "",
    "step_reference": "2000",
    "step_low": "1900",
    "step_high": "2100",
    "description": "price moves by a step of 5% from 2000",
}
EURO_EXAMPLE = {
    **ALERT_EXAMPLE,
    "id": 44,
    **NOT_SET,
    **EURO_REQUEST_EXAMPLE,
    "frequency": "once",
    "note": "",
    "description": "price is at or below 55000 EUR",
}


class PlainDecimalField(serializers.DecimalField):
    """Decimals as plain strings without trailing zeros ("70000", not "7E+4")."""

    def to_representation(self, value: Decimal | None) -> str | None:
        if value is None:
            return None
        return decimal_text(Decimal(value))


class AlertSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: PlainDecimalField,
    }

    coin = CoinIdField(
        help_text="The CoinGecko id of the coin (symbols are not unique).",
        error_messages={"does_not_exist": UNKNOWN_COIN_MESSAGE},
    )
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices),
        required=False,
        help_text="Where to notify. Default: email and in_app. web_push needs a browser with "
        "push enabled (notification settings page).",
    )
    # Declared for allow_blank: a read-only model field would lose it, and the
    # schema would then refuse the blank of alerts that are not expired.
    expired_from = serializers.ChoiceField(
        choices=Alert._meta.get_field("expired_from").choices,
        allow_blank=True,
        read_only=True,
        help_text="Of an expired alert: the status it expired from (active or paused), which "
        "an edit giving it a future expiry restores. Blank otherwise.",
    )
    # A method field, not source="describe": DRF inspects the signature of a
    # callable source for every object, which costs more than describe() itself.
    description = serializers.SerializerMethodField(help_text="The condition in words.")
    # A plain field with the model's validator, not a choice field: its
    # message names the codes offered, as the form's and the profile's do.
    currency = serializers.CharField(
        max_length=10,
        required=False,
        help_text="What target, range_low, range_high, the step prices and a market cap or "
        "volume threshold are in: one of DISPLAY_CURRENCIES, default the base currency "
        "(VS_CURRENCY), whatever the caller's display currency. The alert is evaluated on "
        "prices converted at the current exchange rate, and not at all while that rate is "
        "stale or was never fetched.",
    )

    waiting_for_rate = serializers.SerializerMethodField(
        help_text="True while the alert is active in a currency whose exchange rate is stale "
        "or was never fetched: it is not evaluated until a fresh rate arrives."
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "coin",
            "currency",
            "condition",
            "target",
            "threshold",
            "range_low",
            "range_high",
            "percent",
            "window",
            "step_reference",
            "step_low",
            "step_high",
            "frequency",
            "cooldown_seconds",
            "expires_at",
            "note",
            "channels",
            "status",
            "expired_from",
            "description",
            "waiting_for_rate",
            "last_triggered_at",
            "created_at",
        ]
        read_only_fields = ["status", "expired_from", "last_triggered_at", "created_at"]
        extra_kwargs = {
            "target": {"help_text": "Price for above/below/crosses*, a decimal string."},
            "threshold": {
                "help_text": "For market_cap_* and volume_24h_* (an amount, above zero) and "
                "change_24h_* (a percent above -100: -5 means a 24 h change of -5 % or less)."
            },
            "range_low": {"help_text": "Low price of the range of enters_range/exits_range."},
            "range_high": {"help_text": "High price of the range, above range_low."},
            "percent": {
                "help_text": "Percent for pct_up/pct_down/pct_move, and the step of "
                "pct_step/pct_step_up/pct_step_down (below 100 for a step down)."
            },
            "step_reference": {
                "help_text": "A step alert's reference: the coin's price when it was saved, "
                "then the price at each firing."
            },
            "step_low": {"help_text": "A step alert fires at or below this price (steps down)."},
            "step_high": {"help_text": "A step alert fires at or above this price (steps up)."},
            "window": {"help_text": "Window of a movement condition: 5m, 1h or 24h."},
            "expires_at": {"help_text": "After this time the alert expires; in the future."},
        }

    def get_description(self, alert: Alert) -> str:
        return alert.describe()

    def get_waiting_for_rate(self, alert: Alert) -> bool:
        if alert.status != Status.ACTIVE or alert.in_base_currency:
            return False
        # Read once per response, a list's page included (its items share the context).
        if "paused_currencies" not in self.context:
            self.context["paused_currencies"] = {
                paused.currency for paused in paused_currencies(self.context["request"].user)
            }
        return alert.currency in self.context["paused_currencies"]

    def validate(self, attrs: dict) -> dict:
        """Run the model's own validation on the alert as it would be saved."""
        if self.instance is not None:
            alert = copy.copy(self.instance)
        else:
            alert = Alert(user=self.context["request"].user)
        for name, value in attrs.items():
            setattr(alert, name, value)
        try:
            alert.full_clean()
        except DjangoValidationError as error:
            raise validation_error_from_django(error) from error
        self._clean_alert = alert
        return attrs

    def create(self, validated_data: dict) -> Alert:
        self._clean_alert.save_edit()
        return self._clean_alert

    def update(self, instance: Alert, validated_data: dict) -> Alert:
        self._clean_alert.save_edit()
        return self._clean_alert


class AlertEventSerializer(serializers.ModelSerializer):
    serializer_field_mapping = AlertSerializer.serializer_field_mapping
    coin = CoinIdField(read_only=True)

    class Meta:
        model = AlertEvent
        fields = [
            "id",
            "coin",
            "price",
            "previous_price",
            "currency",
            "exchange_rate",
            "reason",
            "triggered_at",
        ]
        extra_kwargs = {
            "price": {"help_text": "The price the alert compared, in `currency`."},
            "previous_price": {"help_text": "The price before it, in `currency`."},
            "currency": {"help_text": "The alert's currency when it fired."},
            "exchange_rate": {
                "help_text": "Units of `currency` per unit of the base the batch was converted "
                "with (1 in the base): price / exchange_rate is the price in the base."
            },
        }


class AlertFilter(django_filters.FilterSet):
    coin = django_filters.CharFilter(
        field_name="coin__coingecko_id", help_text="Only alerts on this CoinGecko id."
    )
    currency = django_filters.CharFilter(help_text="Only alerts set in this currency (eur).")

    class Meta:
        model = Alert
        fields = ["status", "condition", "coin", "currency"]


# Alert.save_edit revives, to Alert.revived_status.
REVIVAL_NOTE = (
    "An expired alert given a future `expires_at` (or none) becomes active again, or "
    "paused again if it was paused when it expired (`expired_from`)."
)
ALERT_RESPONSE = OpenApiExample("An alert", value=ALERT_EXAMPLE, response_only=True)
EVENT_EXAMPLE = {
    "id": 9,
    "coin": "bitcoin",
    "price": "70012.3",
    "previous_price": "69990.1",
    "currency": "usd",
    "exchange_rate": "1",
    "reason": "Price 70012.3 is at or above 70000.",
    "triggered_at": "2026-11-21T06:01:00Z",
}
EURO_EVENT_EXAMPLE = {
    "id": 10,
    "coin": "bitcoin",
    "price": "27090",
    "previous_price": "26100",
    "currency": "eur",
    "exchange_rate": "0.9",
    "reason": "Price crossed up through 27000 EUR (€26,100.00 → €27,090.00).",
    "triggered_at": "2026-11-21T06:02:00Z",
}
STATE_RESPONSES = {
    200: OpenApiResponse(AlertSerializer, examples=[ALERT_RESPONSE]),
    409: OpenApiResponse(
        ErrorSerializer,
        description="The alert's state forbids this.",
        examples=[
            OpenApiExample(
                "Expired",
                value=error_body("conflict", "This alert has expired: set a new expiry."),
                status_codes=["409"],
                response_only=True,
            )
        ],
    ),
}


@extend_schema_view(
    list=extend_schema(
        summary="Your alerts",
        description=(
            "The caller's alerts, newest first; filter with `status`, `condition`, `coin`, "
            "`currency`. The user always comes from authentication (the product brief's "
            "`GET /alerts/user/:userId`). `waiting_for_rate` marks the active alerts whose "
            "currency's exchange rate is stale or was never fetched: they are not evaluated "
            "until a fresh rate arrives."
        ),
        examples=[OpenApiExample("An alert", value=ALERT_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Create an alert",
        description=(
            "Price conditions (above, below, crosses_up, crosses_down, crosses) need `target`; "
            "movement conditions (pct_up, pct_down, pct_move) need `percent` and `window`; "
            "market_cap_above, market_cap_below, market_cap_crosses, volume_24h_above, "
            "volume_24h_below, change_24h_above and change_24h_below need `threshold`; "
            "enters_range and exits_range need `range_low` and `range_high`; steps "
            "(pct_step, pct_step_up, pct_step_down) need `percent`, and start from the coin's "
            "price when saved (`step_reference`; an edit starts them again). Prices and market "
            "cap or volume thresholds are in `currency` (default the base currency, unlike "
            "the web form, which starts with the user's display currency). "
            "Validated exactly like the web form; errors are listed per field."
        ),
        examples=[
            OpenApiExample("Price above", value=ALERT_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("Falls 5% in 1h", value=MOVEMENT_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample(
                "Market cap above 2T", value=MARKET_CAP_REQUEST_EXAMPLE, request_only=True
            ),
            OpenApiExample(
                "24 h change -5% or less", value=CHANGE_REQUEST_EXAMPLE, request_only=True
            ),
            OpenApiExample("Enters 30000-31000", value=RANGE_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("Every 5% either way", value=STEP_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("Below 55000 EUR", value=EURO_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("Created", value=ALERT_EXAMPLE, response_only=True),
            OpenApiExample("Created: a step", value=STEP_EXAMPLE, response_only=True),
            OpenApiExample("Created: in EUR", value=EURO_EXAMPLE, response_only=True),
        ],
    ),
    retrieve=extend_schema(
        summary="One alert",
        description="One of the caller's alerts; another user's alert is a 404.",
        examples=[ALERT_RESPONSE],
    ),
    update=extend_schema(
        summary="Replace an alert",
        description=(
            "Send every required field; optional ones left out keep their current values. "
            "Validated like a new alert. " + REVIVAL_NOTE
        ),
        examples=[
            OpenApiExample("Price above", value=ALERT_REQUEST_EXAMPLE, request_only=True),
            ALERT_RESPONSE,
        ],
    ),
    partial_update=extend_schema(
        summary="Change an alert",
        description="Change some fields; the result is validated as a whole. " + REVIVAL_NOTE,
        examples=[
            OpenApiExample("New target", value={"target": "72000"}, request_only=True),
            ALERT_RESPONSE,
        ],
    ),
    destroy=extend_schema(summary="Delete an alert", description="Delete it and its events."),
)
class AlertViewSet(ConditionalListMixin, viewsets.ModelViewSet):
    queryset = Alert.objects.none()  # for the schema; get_queryset() scopes to the caller
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    list_cache_scope = "alerts"

    def get_queryset(self) -> QuerySet[Alert]:
        return Alert.objects.filter(user=self.request.user).select_related("coin")

    def list_validator(self, request: Request) -> ValidatorQuery | None:
        # The caller's alerts (status changes by the evaluator and the expiry
        # task included), the coin id each one shows, and whether its
        # currency's rate is usable (`waiting_for_rate`: it changes as a rate
        # ages past the limit, no row written).
        return row_digest(
            Alert._meta.db_table,
            f"JOIN {Coin._meta.db_table} c ON c.id = t.coin_id "
            f"LEFT JOIN {ExchangeRate._meta.db_table} r ON r.currency = t.currency "
            "AND r.base = %s WHERE t.user_id = %s",
            (
                base_currency(),
                stale_before(),
                display_currencies(),
                base_currency(),
                request.user.pk,
            ),
            # alerts.currency_status.paused_currencies's rule, per row: stale,
            # never fetched, or no longer offered.
            extra="c.coingecko_id, (t.currency <> %s AND (r.fetched_at IS NULL "
            "OR r.fetched_at < %s OR NOT (t.currency = ANY(%s))))",
        )

    @extend_schema(
        summary="Pause an alert",
        description="An active alert stops being evaluated until resumed. Pausing twice is fine.",
        request=None,
        responses=STATE_RESPONSES,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def pause(self, request: Request, pk: str) -> Response:
        alert = self.get_object()
        if not alert.pause() and alert.status != Status.PAUSED:
            raise Conflict(f"Only active alerts can be paused; this one is {alert.status}.")
        return Response(self.get_serializer(alert).data)

    @extend_schema(
        summary="Resume an alert",
        description=(
            "A paused (or triggered) alert becomes active again, re-armed, if it is still "
            "valid: not expired, within your limit of active alerts. Resuming an active "
            "alert is fine."
        ),
        request=None,
        responses=STATE_RESPONSES,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def resume(self, request: Request, pk: str) -> Response:
        alert = self.get_object()
        try:
            resumed = alert.resume()
        except DjangoValidationError as error:
            raise Conflict(" ".join(error.messages)) from error
        if not resumed and alert.status != Status.ACTIVE:
            raise Conflict(
                f"Only paused or triggered alerts can be resumed; this one is {alert.status}."
            )
        return Response(self.get_serializer(alert).data)

    @extend_schema(
        summary="When an alert fired",
        description=(
            "The alert's events (each firing, with the price), newest first. Prices are in "
            "the event's `currency`, converted from the base with its `exchange_rate`."
        ),
        responses=AlertEventSerializer(many=True),
        examples=[
            OpenApiExample("A firing", value=EVENT_EXAMPLE, response_only=True),
            OpenApiExample("A firing in EUR", value=EURO_EVENT_EXAMPLE, response_only=True),
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def events(self, request: Request, pk: str) -> Response:
        events = self.get_object().events.select_related("coin").order_by("-triggered_at", "-pk")
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AlertEventSerializer(page, many=True).data)
