"""Show times in the zone, and prices in the currency, a logged-in user chose: on pages only.

The REST API always answers in UTC (ISO 8601 with its offset), whoever calls:
a token caller and the same user's browser session get the same text for the
same instant, and a cached API page is right for everyone (docs/api.md). For
the same reason it converts prices only when asked (`?currency=`), never into
the caller's display currency.

The display currency goes on the request as `request.display_currency` (None
for visitors): prices' pages read it there (prices.currencies.display_for),
since prices cannot import accounts.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.views import APIView

from accounts.models import Profile


class UserPreferencesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        time_zone, request.display_currency = user_preferences(request.user)
        zone = _zone(time_zone)
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        # DRF's as_view() marks every API view (views and viewsets) with its class.
        if is_api_view(view_func):
            timezone.deactivate()


def is_api_view(view_func) -> bool:
    view_class = getattr(view_func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def user_preferences(user) -> tuple[str | None, str | None]:
    """The user's time zone name and display currency, in one query; None for visitors."""
    if not user.is_authenticated:
        return None, None
    row = Profile.objects.filter(user=user).values_list("time_zone", "display_currency").first()
    return row or (None, None)


def _zone(name: str | None) -> ZoneInfo | None:
    """The zone named; None (the site's zone) for unset or unknown zones."""
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None
