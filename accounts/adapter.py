"""allauth's adapter, and one lockout for every door that takes a password.

allauth counts failed logins under its `login_failed` rate limit
(ACCOUNT_RATE_LIMITS, LOGIN_FAILED_RATE_LIMIT): per client address and per
login key. The three doors share it: allauth's login form, the admin's login
(cryptomonitor/urls.py sends it to allauth's) and POST /api/v1/auth/token/
(`authenticate` below, allauth's own authenticate). Over the limit each
answers 429 with Retry-After.
"""

from __future__ import annotations

import math
import time

from allauth.account.adapter import DefaultAccountAdapter, get_adapter
from allauth.core.internal import ratelimit
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest

LOCKED_OUT = "too_many_login_attempts"  # allauth's error code


class LockedOut(Exception):
    """Too many failed logins for this account or address; retry after `retry_after` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials) -> str:
        # allauth keys failures on the login as typed, so "alice" and
        # "alice@example.com" each had their own five tries: key them on the
        # account they name. allauth also calls this to clear the count
        # after a password reset. (A private hook: accounts/tests/
        # test_lockout.py fails if an allauth upgrade stops calling it.)
        login = credentials.get("email", credentials.get("username", ""))
        account = account_named_by(login)
        if account is None:
            return super()._get_login_attempts_cache_key(request, **credentials)
        return f"account:{account}"

    def clean_username(self, username: str, shallow: bool = False) -> str:
        # A username shaped like an address ("alice@example.com") would name
        # a second account beside the one whose address it is: refused, so
        # a login with an "@" always means an address (account_named_by).
        if "@" in username:
            raise ValidationError(
                "A username cannot contain @: sign in with your email address instead.",
                code="invalid",
            )
        return super().clean_username(username, shallow=shallow)


def account_named_by(login: str) -> int | None:
    """The id of the one account `login` names, else None.

    A login with an "@" is an address (the account's own, or one it
    confirmed on allauth's email page), anything else a username: names made
    before usernames refused "@" cannot split an account's count in two.
    """
    if not login:
        return None
    if "@" in login:
        named = Q(email__iexact=login) | Q(
            emailaddress__email__iexact=login, emailaddress__verified=True
        )
    else:
        named = Q(username__iexact=login)
    ids = list(
        get_user_model()._default_manager.filter(named).values_list("pk", flat=True).distinct()[:2]
    )
    return ids[0] if len(ids) == 1 else None


def authenticate(request: HttpRequest, login: str, password: str):
    """allauth's authenticate, failures counted: the user, None, or LockedOut."""
    try:
        return get_adapter(request).authenticate(request, username=login, password=password)
    except ValidationError as error:
        if error.code == LOCKED_OUT:
            raise LockedOut(retry_after(request, login)) from None
        raise


def retry_after(request: HttpRequest, login: str) -> int:
    """Seconds until `login` from this address may try again (at least 1).

    allauth keeps each limit's recent failures in the cache, newest first;
    a full limit frees up when its oldest counted failure leaves the window.
    allauth has no public call for this, hence its internal module.
    """
    key = get_adapter(request)._get_login_attempts_cache_key(request, username=login)
    now = time.time()
    wait = 0.0
    for rate in ratelimit.get_rates(app="allauth.account", action="login_failed"):
        cache_key = ratelimit.get_cache_key(
            request, app="allauth.account", action="login_failed", rate=rate, key=key
        )
        recent = [at for at in cache.get(cache_key, []) if at > now - rate.duration]
        if len(recent) >= rate.amount:
            wait = max(wait, recent[rate.amount - 1] + rate.duration - now)
    return max(1, math.ceil(wait))
