"""REST API of accounts: the caller's profile and settings, and getting a token."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import adapter, confirmation
from accounts.forms import time_zone_choices
from accounts.models import ApiToken, Profile, api_tokens_need_confirmation
from notifications.models import NotificationSettings
from notifications.validation import MAX_APPRISE_URLS, MAX_URL_LENGTH

ME_EXAMPLE = {
    "username": "alice",
    "email": "alice@example.com",
    "notification_email": "",
    "notification_email_confirmed": False,
    "alert_email": "alice@example.com",
    "time_zone": "Europe/Paris",
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
        description="Change any of notification_email, time_zone, webhook_url, apprise_urls.",
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


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Your username or email address.")
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What the token is for, e.g. 'backup script'.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The key: shown this once, only its hash is kept.")
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters, to recognise it.")


class TokenObtainView(APIView):
    """Exchange a username and password for a new personal API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_scope = "token_obtain"

    @extend_schema(
        summary="Get an API token",
        description=(
            "Creates a named personal token for the account and returns its key once. "
            "Send it as `Authorization: Token <key>` (or `Bearer <key>`); revoke it on "
            "/account/tokens/. Rate-limited per IP address (the `token_obtain` rate). "
            "Failed attempts count with those of the login page, per account and per "
            "address: over LOGIN_FAILED_RATE_LIMIT, 429 `too_many_login_attempts` with "
            "Retry-After. 403 `email_unverified` until the account's email address is "
            "confirmed (API_TOKENS_REQUIRE_VERIFIED_EMAIL)."
        ),
        request=TokenRequestSerializer,
        responses={201: TokenResponseSerializer},
        auth=[],
        examples=[
            OpenApiExample(
                "Credentials",
                value={"username": "alice", "password": "correct horse", "name": "cron job"},
                request_only=True,
            ),
            OpenApiExample(
                "New token",
                value={"token": "q3Kx…", "name": "cron job", "prefix": "q3Kx9vTz"},
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        credentials = TokenRequestSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        data = credentials.validated_data
        try:
            user = adapter.authenticate(request._request, data["username"], data["password"])
        except adapter.LockedOut as locked:
            raise exceptions.Throttled(
                wait=locked.retry_after,
                detail="Too many failed login attempts for this account or address.",
                code=adapter.LOCKED_OUT,
            ) from None
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with these credentials."]}
            )
        if api_tokens_need_confirmation(user):
            raise exceptions.PermissionDenied(
                detail=(
                    f"Confirm your email address ({user.email or 'none set'}) before getting "
                    "API tokens: follow the link we mailed you, or send a new one from "
                    "/accounts/email/."
                ),
                code="email_unverified",
            )
        token, key = ApiToken.issue(user, data["name"])
        return Response(
            {"token": key, "name": token.name, "prefix": token.prefix},
            status=status.HTTP_201_CREATED,
        )
