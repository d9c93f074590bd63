"""API throttles: fixed-window counters in the cache, rates read at request time.

DRF's own throttles keep a list of every request's timestamp in the cache and
rewrite it on each request (read, check, write): two concurrent requests can
both pass, and the list grows with the rate. These count with one atomic
INCR per window instead (on the project's Redis cache, INCR and EXPIRE NX in
one round trip: cryptomonitor.redis_cache). A window allows at most `rate`
requests; a client that bursts across a window boundary can get up to twice
that in a short span, an accepted trade-off for a constant-cost, race-free
check.

DRF also copies DEFAULT_THROTTLE_RATES into a class attribute at import, so a
changed setting (an operator's env, a test's override_settings) would not
apply; these look the rate up on every request.
"""

from __future__ import annotations

import math
import time

from rest_framework import throttling
from rest_framework.settings import api_settings


class _FixedWindowMixin:
    scope: str | None
    cache_format = "throttle_%(scope)s_%(ident)s"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self.wait_seconds = (window + 1) * self.duration - now
        counter = f"{key}:{window}"
        return self.count(counter, timeout=self.duration + 1) <= self.num_requests

    def count(self, counter: str, timeout: int) -> int:
        """Add one to the window's counter; return the new count."""
        incr_with_expiry = getattr(self.cache, "incr_with_expiry", None)
        if incr_with_expiry is not None:
            # cryptomonitor.redis_cache: INCR + EXPIRE NX, one round trip.
            return incr_with_expiry(counter, timeout)
        self.cache.add(counter, 0, timeout=timeout)
        try:
            return self.cache.incr(counter)
        except ValueError:  # expired between add and incr
            self.cache.set(counter, 1, timeout=timeout)
            return 1

    def wait(self) -> float:
        # Whole seconds, at least one: Retry-After: 0 would invite a retry storm.
        return max(1, math.ceil(self.wait_seconds))


class AnonRateThrottle(_FixedWindowMixin, throttling.AnonRateThrottle):
    """Anonymous callers, per IP address."""


class UserRateThrottle(_FixedWindowMixin, throttling.UserRateThrottle):
    """Authenticated callers, per user (all their tokens and sessions together)."""


class ScopedRateThrottle(_FixedWindowMixin, throttling.ScopedRateThrottle):
    """Views with a `throttle_scope`, e.g. token_obtain (per user, or per IP)."""

    def allow_request(self, request, view) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        return super().allow_request(request, view)
