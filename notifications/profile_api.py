"""REST API of the caller's profile: accounts' Profile and where notifications go, as one
resource (/api/v1/me/). It reads both apps, so it lives in notifications, above accounts."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import confirmation
from accounts.forms import time_zone_choices
from accounts.models import Profile
from notifications.models import NotificationSettings
from notifications.validation import MAX_APPRISE_URLS, MAX_URL_LENGTH

ME_EXAMPLE = {
    "username": "alice",
    "email": "alice@example.com",
    "notification_email": "",
    "notification_email_confirmed": False,
    "alert_email": "alice@example.com",
    "time_zone": "Europe/Paris",
    "display_currency": "eur",
    "webhook_url": "https://example.com/hooks/crypto",
    "webhook_secret": "5f0c…",
    "apprise_urls": ["ntfy://ntfy.sh/my-topic"],
}


class MeSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True, help_text="Change it on the account page.")
    notification_email = serializers.EmailField(
        source="profile.notification_email",
        allow_blank=True,
        required=False,
        help_text=(
            "Where alert emails go once confirmed; blank means `email`. A new address is "
            "mailed a confirmation link; until it is followed, alerts go to `alert_email`."
        ),
    )
    notification_email_confirmed = serializers.BooleanField(
        source="profile.notification_email_confirmed",
        read_only=True,
        help_text="Whether the link mailed to `notification_email` was followed.",
    )
    alert_email = serializers.EmailField(
        source="profile.alert_email",
        read_only=True,
        help_text=(
            "Where alert emails go now: the first confirmed of `notification_email` and "
            "`email`; blank while neither is confirmed (no alert email is sent)."
        ),
    )
    time_zone = serializers.ChoiceField(
        source="profile.time_zone",
        choices=[name for name, _ in time_zone_choices()],
        required=False,
        help_text="An IANA time zone, e.g. Europe/Paris.",
    )
    # Checked by the model's validator (DISPLAY_CURRENCIES, read when called).
    display_currency = serializers.CharField(
        source="profile.display_currency",
        max_length=10,
        required=False,
        help_text=(
            "What the web pages show prices in: one of DISPLAY_CURRENCIES, e.g. eur. "
            "The API converts only when asked (`?currency=`)."
        ),
    )
    webhook_url = serializers.URLField(
        source="notification_settings.webhook_url",
        allow_blank=True,
        max_length=MAX_URL_LENGTH,
        required=False,
        help_text="POSTed a signed JSON body when an alert with the webhook channel fires.",
    )
    webhook_secret = serializers.CharField(
        source="notification_settings.webhook_secret",
        read_only=True,
        help_text="Key of the webhook's HMAC-SHA256 signature.",
    )
    apprise_urls = serializers.ListField(
        source="notification_settings.apprise_url_list",
        child=serializers.CharField(max_length=MAX_URL_LENGTH),
        max_length=MAX_APPRISE_URLS,
        required=False,
        help_text="Apprise URLs (tgram://…, ntfy://…) for the apprise channel.",
    )

    def to_representation(self, user) -> dict:
        # Create the rows on first use, as the account page does.
        Profile.for_user(user)
        NotificationSettings.for_user(user)
        return super().to_representation(user)

    def update(self, user, validated_data: dict):
        profile = Profile.for_user(user)
        for name, value in validated_data.get("profile", {}).items():
            setattr(profile, name, value)
        notification_settings = NotificationSettings.for_user(user)
        for name, value in validated_data.get("notification_settings", {}).items():
            if name == "apprise_url_list":
                name, value = "apprise_urls", "\n".join(url.strip() for url in value)
            setattr(notification_settings, name, value)
        # Validate both (syntax only, notifications.validation) before the
        # transaction: its row locks are held only while writing.
        errors: dict[str, list[str]] = {}
        for row in (profile, notification_settings):
            try:
                row.full_clean()
            except DjangoValidationError as error:
                errors.update(error.message_dict)
        if errors:
            raise DjangoValidationError(errors)
        with transaction.atomic():
            profile.save()
            notification_settings.save()
        return user


class MeView(APIView):
    """The caller's profile and notification settings."""

    serializer_class = MeSerializer

    @extend_schema(
        summary="Your profile",
        description="Your account, where your notifications go, and your time zone.",
        examples=[OpenApiExample("Alice", value=ME_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)

    @extend_schema(
        summary="Change your profile",
        description=(
            "Change any of notification_email, time_zone, display_currency, webhook_url, "
            "apprise_urls."
        ),
        examples=[
            OpenApiExample("Time zone", value={"time_zone": "Europe/Paris"}, request_only=True),
            OpenApiExample("Alice", value=ME_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request) -> Response:
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        before = Profile.for_user(request.user).notification_email
        serializer.save()
        profile = Profile.for_user(request.user)
        if profile.notification_email != before:
            # A new address is mailed its link (at most once per address every
            # few minutes); alert mail goes there once it is followed.
            confirmation.send_link(request._request, profile)
        return Response(MeSerializer(request.user).data)
