"""Template context every page gets from notifications: the unread badge, the popup sound."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from notifications.models import InAppNotification, NotificationSettings


def unread_notifications(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notifications_count": 0, "popup_sound": False}
    # Lazy: each query runs only on pages that show what it reads.
    return {
        "unread_notifications_count": SimpleLazyObject(
            lambda: InAppNotification.objects.filter(user=user).unread().count()
        ),
        "popup_sound": SimpleLazyObject(lambda: popup_sound_on(user)),
    }


def popup_sound_on(user) -> bool:
    settings = NotificationSettings.objects.filter(user=user)
    return bool(settings.values_list("popup_sound", flat=True).first())
