"""API throttles: fixed-window counters in the cache, rates read at request time.

DRF's own throttles keep a list of every request's timestamp in the cache and
rewrite it on each request (read, check, write): two concurrent requests can
both pass, and the list grows with the rate. These count with one atomic
INCR per window instead (on the project's Redis cache, SET NX EX and INCR in
one round trip: cryptomonitor.redis_cache). A window allows at most `rate`
requests; a client that bursts across a window boundary can get up to twice
that in a short span, an accepted trade-off for a constant-cost, race-free
check.

DRF also copies DEFAULT_THROTTLE_RATES into a class attribute at import, so a
changed setting (an operator's env, a test's override_settings) would not
apply; these look the rate up on every request.

`ApiThrottles` (the project's DEFAULT_THROTTLE_CLASSES) applies the three
together and counts every window that applies in one round trip: an anonymous
request has two (per-IP "anon" and "user"), which as separate throttles cost
two round trips to Redis, a fifth of a cached page's CPU.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

from django.core.cache import cache as default_cache
from rest_framework import throttling
from rest_framework.settings import api_settings

# WSGI environ key (no client can send one: headers arrive as HTTP_*): the
# seconds to wait, set by cryptomonitor.api_front on a request it has already
# counted against the throttles and found over a limit.
COUNTED_OVER_LIMIT = "cryptomonitor.throttle_counted_over_limit"


class Window(NamedTuple):
    """One throttle's counter for the current window."""

    counter: str  # cache key of the window's count
    timeout: int  # seconds the counter lives
    limit: int  # requests the window allows
    wait_seconds: float  # until the next window


def count_windows(cache, windows: list[Window]) -> list[int]:
    """Add one to each window's counter; return the new counts."""
    incr_many = getattr(cache, "incr_many_with_expiry", None)
    if incr_many is not None:
        # cryptomonitor.redis_cache: SET NX EX + INCR each, one round trip for all.
        return incr_many([(window.counter, window.timeout) for window in windows])
    return [count(cache, window.counter, window.timeout) for window in windows]


def count(cache, counter: str, timeout: int) -> int:
    """Add one to a counter (created with `timeout`); return the new count."""
    incr_with_expiry = getattr(cache, "incr_with_expiry", None)
    if incr_with_expiry is not None:
        # cryptomonitor.redis_cache: SET NX EX + INCR, one round trip.
        return incr_with_expiry(counter, timeout)
    cache.add(counter, 0, timeout=timeout)
    try:
        return cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, timeout=timeout)
        return 1


class _FixedWindowMixin:
    scope: str | None
    cache_format = "throttle_%(scope)s_%(ident)s"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        window = self.window(request, view)
        if window is None:
            return True
        return count(self.cache, window.counter, window.timeout) <= window.limit

    def window(self, request, view) -> Window | None:
        """The counter this request adds to; None when this throttle does not apply."""
        self.rate = self.get_rate()
        if self.rate is None:
            return None
        self.num_requests, self.duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if key is None:
            return None
        now = time.time()
        window = int(now // self.duration)
        self.wait_seconds = (window + 1) * self.duration - now
        return Window(f"{key}:{window}", self.duration + 1, self.num_requests, self.wait_seconds)

    def wait(self) -> float:
        # Whole seconds, at least one: Retry-After: 0 would invite a retry storm.
        return max(1, math.ceil(self.wait_seconds))


class AnonRateThrottle(_FixedWindowMixin, throttling.AnonRateThrottle):
    """Anonymous callers, per IP address."""


class UserRateThrottle(_FixedWindowMixin, throttling.UserRateThrottle):
    """Authenticated callers, per user (all their tokens and sessions together)."""


class ScopedRateThrottle(_FixedWindowMixin, throttling.ScopedRateThrottle):
    """Views with a `throttle_scope`, e.g. token_obtain (per user, or per IP)."""

    def window(self, request, view) -> Window | None:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return None
        return super().window(request, view)


class ApiThrottles(throttling.BaseThrottle):
    """AnonRateThrottle, UserRateThrottle and ScopedRateThrottle, counted in one round trip.

    The same windows and limits as the three as separate throttle classes:
    every window that applies counts the request, and a request over any
    limit waits for the latest of their next windows.
    """

    throttle_classes = (AnonRateThrottle, UserRateThrottle, ScopedRateThrottle)
    cache = default_cache

    def allow_request(self, request, view) -> bool:
        counted_wait = request.META.get(COUNTED_OVER_LIMIT)
        if counted_wait is not None:
            # cryptomonitor.api_front counted this request already and found it
            # over a limit: answer 429 without counting it twice.
            self.wait_seconds = counted_wait
            return False
        windows = [
            window
            for throttle_class in self.throttle_classes
            if (window := throttle_class().window(request, view)) is not None
        ]
        if not windows:
            return True
        counts = count_windows(self.cache, windows)
        exceeded = [w.wait_seconds for w, n in zip(windows, counts, strict=True) if n > w.limit]
        self.wait_seconds = max(exceeded, default=0.0)
        return not exceeded

    def wait(self) -> float:
        return max(1, math.ceil(self.wait_seconds))
