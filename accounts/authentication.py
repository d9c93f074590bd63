"""API authentication with personal tokens: `Authorization: Token <key>` or `Bearer <key>`."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken

KEYWORDS = ("Token", "Bearer")


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """DRF's TokenAuthentication over ApiToken, which decides whether a key is valid.

    No header (or another scheme) means "try the next class"; either keyword
    is parsed by DRF's own code.
    """

    model = ApiToken

    def authenticate(self, request: Request):
        parts = authentication.get_authorization_header(request).split()
        scheme = parts[0].lower() if parts else b""
        self.keyword = next((w for w in KEYWORDS if scheme == w.lower().encode()), KEYWORDS[0])
        return super().authenticate(request)

    def authenticate_credentials(self, key: str):
        token = ApiToken.authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        token.record_use()
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to callers without credentials.
        return 'Token realm="api"'
