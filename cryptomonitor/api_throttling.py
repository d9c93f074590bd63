"""Throttles that read their rate at request time.

DRF's classes copy DEFAULT_THROTTLE_RATES into a class attribute at import, so
changing the setting (an operator's env, a test's override_settings) would
not apply; these look it up on every request instead.
"""

from __future__ import annotations

from rest_framework import throttling
from rest_framework.settings import api_settings


class _CurrentRateMixin:
    scope: str | None

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonRateThrottle(_CurrentRateMixin, throttling.AnonRateThrottle):
    """Anonymous callers, per IP address."""


class UserRateThrottle(_CurrentRateMixin, throttling.UserRateThrottle):
    """Authenticated callers, per user (all their tokens and sessions together)."""


class ScopedRateThrottle(_CurrentRateMixin, throttling.ScopedRateThrottle):
    """Views with a `throttle_scope`, e.g. token_obtain (per user, or per IP)."""
