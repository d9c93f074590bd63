"""DRF's throttles, counting in fixed windows; rates read at request time.

DRF's SimpleRateThrottle keeps a list of every request's time in the cache and
rewrites it on each request (read, check, write): two concurrent requests can
both pass, and the list grows with the rate. These subclasses count with one
atomic increment per window instead (`count`). A window allows at most `rate`
requests; a client that bursts across a window boundary can get up to twice
that in a short span, an accepted trade-off for a constant-cost, race-free
check. DRF also copies DEFAULT_THROTTLE_RATES into a class attribute at
import, so a changed setting (an operator's env, a test's override_settings)
would not apply; these read the rate on every request.
"""

from __future__ import annotations

import math

from rest_framework import throttling
from rest_framework.settings import api_settings


def count(cache, counter: str, timeout: int) -> int:
    """Add one to a counter that lives `timeout` seconds from its first count; the new count."""
    try:
        return cache.incr(counter)
    except ValueError:  # no counter yet: start one (another process may just have)
        if cache.add(counter, 1, timeout=timeout):
            return 1
        return cache.incr(counter)


class FixedWindowRateThrottle(throttling.SimpleRateThrottle):
    """SimpleRateThrottle with a counter per window of the rate's duration."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.wait_seconds = (window + 1) * self.duration - now
        return count(self.cache, f"{key}:{window}", self.duration + 1) <= self.num_requests

    def wait(self) -> float:
        # Whole seconds, at least one: Retry-After: 0 would invite a retry storm.
        return max(1, math.ceil(self.wait_seconds))


class AnonRateThrottle(throttling.AnonRateThrottle, FixedWindowRateThrottle):
    """Anonymous callers, per IP address."""


class UserRateThrottle(throttling.UserRateThrottle, FixedWindowRateThrottle):
    """Authenticated callers per user (all their tokens and sessions); visitors per IP."""


class ScopedRateThrottle(throttling.ScopedRateThrottle, FixedWindowRateThrottle):
    """Views with a `throttle_scope`, e.g. token_obtain (per user, or per IP)."""
