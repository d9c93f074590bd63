"""System checks: Web Push's VAPID settings make one usable key pair."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from notifications import push


def vapid_keys_usable(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Both VAPID keys or neither, and the public key the private one's.

    Otherwise the first push or the settings page would fail: say so at start.
    """
    try:
        push.environment_key_pair()
    except ImproperlyConfigured as problem:
        return [
            checks.Error(
                str(problem),
                hint="Unset both to have a pair generated and kept in the database "
                "(docs/notifications.md#web-push).",
                id="notifications.E001",
            )
        ]
    return []
