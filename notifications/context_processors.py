"""Template context every page gets from notifications: the unread badge."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from notifications.models import InAppNotification


def unread_notifications(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notifications_count": 0}
    # Lazy: the count query runs only on pages that show the badge.
    return {
        "unread_notifications_count": SimpleLazyObject(
            lambda: InAppNotification.objects.filter(user=user).unread().count()
        )
    }
