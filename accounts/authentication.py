"""API authentication with personal tokens: `Authorization: Token <key>` or `Bearer <key>`."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken
from cryptomonitor import prepared

KEYWORDS = ("token", "bearer")
# Record use at most this often: a script polling every second must not turn
# every read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate with an ApiToken; no header means "try the next class"."""

    def authenticate(self, request: Request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower().decode(errors="replace") not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Token <key>' or 'Bearer <key>'."
            )
        try:
            key = parts[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        token = find_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        mark_used(token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to callers without credentials.
        return 'Token realm="api"'


def find_token(key: str) -> ApiToken | None:
    """ApiToken.authenticate(key) in one precompiled query: the token and its user.

    The same rules (a token not revoked, of an active user, found by the
    SHA-256 of its key); the ORM's select_related() query cost about 0.7 ms
    to compile on every API request, longer than the whole cached answer.
    PostgreSQL only: elsewhere ApiToken.authenticate itself.
    """
    if connection.vendor != "postgresql":
        # The raw row skips Django's converters: on SQLite (make run) dates
        # would come back naive and booleans as integers.
        return ApiToken.authenticate(key)
    sql, token_fields, user_fields = _token_query()
    # A prepared statement on PostgreSQL: planning it cost more than running it.
    row = prepared.fetchone("cm_api_token", sql, (ApiToken.hash_key(key),))
    if row is None:
        return None
    token = ApiToken.from_db(connection.alias, token_fields, row[: len(token_fields)])
    token.user = get_user_model().from_db(connection.alias, user_fields, row[len(token_fields) :])
    return token if token.user.is_active else None


@cache
def _token_query() -> tuple[str, list[str], list[str]]:
    """SELECT every column of the token and of its user, by key hash, active tokens only."""
    user_model = get_user_model()
    quote = connection.ops.quote_name
    token_fields = [field.attname for field in ApiToken._meta.concrete_fields]
    user_fields = [field.attname for field in user_model._meta.concrete_fields]
    columns = [f"t.{quote(f.column)}" for f in ApiToken._meta.concrete_fields] + [
        f"u.{quote(f.column)}" for f in user_model._meta.concrete_fields
    ]
    return f"SELECT {', '.join(columns)} {_token_source()}", token_fields, user_fields  # noqa: S608


@cache
def token_state_query() -> str:
    """SELECT the token's id, user id and last use, and whether its user is active.

    By key hash (one %s), active tokens only: find_token's rules, for
    cryptomonitor.api_front, which re-checks a token before answering for it.
    """
    quote = connection.ops.quote_name
    columns = (
        f"t.{quote(ApiToken._meta.pk.column)}",
        f"t.{quote(ApiToken._meta.get_field('user').column)}",
        f"t.{quote(ApiToken._meta.get_field('last_used_at').column)}",
        f"u.{quote(get_user_model()._meta.get_field('is_active').column)}",
    )
    return f"SELECT {', '.join(columns)} {_token_source()}"  # noqa: S608


def _token_source() -> str:
    """FROM the token (t) JOIN its user (u) WHERE the key hash is %s and it is not revoked."""
    user_model = get_user_model()
    quote = connection.ops.quote_name
    user_fk = quote(ApiToken._meta.get_field("user").column)
    revoked_at = quote(ApiToken._meta.get_field("revoked_at").column)
    key_hash = quote(ApiToken._meta.get_field("key_hash").column)
    # Names come from the models' metadata; the key hash is a parameter.
    return (
        f"FROM {quote(ApiToken._meta.db_table)} t "
        f"JOIN {quote(user_model._meta.db_table)} u ON u.{quote(user_model._meta.pk.column)} "
        f"= t.{user_fk} WHERE t.{key_hash} = %s AND t.{revoked_at} IS NULL"
    )


def used_recently(last_used_at, now) -> bool:
    """Whether a token used at `last_used_at` needs no new mark_used at `now`."""
    return last_used_at is not None and now - last_used_at < LAST_USED_PRECISION


def mark_used(token: ApiToken) -> None:
    """Set last_used_at with one conditional UPDATE, at most once a minute."""
    now = timezone.now()
    if used_recently(token.last_used_at, now):
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION),
        pk=token.pk,
    ).update(last_used_at=now)
