"""Show times in the zone a logged-in user chose on their profile: on pages only.

The REST API always answers in UTC (ISO 8601 with its offset), whoever calls:
a token caller and the same user's browser session get the same text for the
same instant, and a cached API page is right for everyone (docs/api.md).
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.views import APIView

from accounts.models import Profile


class UserTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = user_time_zone(request.user)
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


def user_time_zone(user) -> ZoneInfo | None:
    """The user's zone; None (the site's zone) for visitors and unset or unknown zones."""
    if not user.is_authenticated:
        return None
    name = Profile.objects.filter(user=user).values_list("time_zone", flat=True).first()
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None
