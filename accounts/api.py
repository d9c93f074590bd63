"""REST API of accounts: getting a token (the profile is notifications.profile_api's)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import adapter
from accounts.models import ApiToken, api_tokens_need_confirmation


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
