"""Open sockets let a user go: on logout, when their credentials change, when a
token is revoked, when their account is deactivated.

A socket keeps the user its session (or API token) named when it was
authenticated. These receivers tell every socket of that user, through the
channel layer, to close (prices.consumers.PriceConsumer.user_signed_out);
browsers reconnect as whoever their session now says, anonymous after a
logout: the logout receiver ends the session before it closes the sockets.
A logout ends a session, not a token: sockets a token opened stay open.
A revoked token closes the sockets it opened, and only those
(PriceConsumer.token_revoked).
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.signals import credentials_changed, token_revoked
from common.live_groups import token_group, user_group

log = logging.getLogger(__name__)


def close_user_sockets(user_id: int, reason: str, *, sessions_only: bool = False) -> None:
    """Close every open socket of a user (or only those of sessions), in every daphne process."""
    event = {"type": "user.signed_out", "reason": reason, "sessions_only": sessions_only}
    try:
        async_to_sync(get_channel_layer().group_send)(user_group(user_id), event)
    except Exception:
        # The logout or password change itself must still succeed.
        log.exception("could not close the sockets of user %s", user_id)


@receiver(user_logged_out, dispatch_uid="prices.close_sockets_on_logout")
def close_sockets_on_logout(sender, request=None, user=None, **kwargs) -> None:
    if user is None:  # the session had no user
        return
    if request is not None:
        # Django flushes the session only after this signal: a browser that
        # reconnects the moment its socket closes would still be signed in.
        # End it first; Django's own flush then finds nothing left to delete.
        request.session.flush()
    close_user_sockets(user.pk, "signed out", sessions_only=True)


@receiver(credentials_changed, dispatch_uid="prices.close_sockets_on_credentials_changed")
def close_sockets_on_credentials_changed(sender, user, **kwargs) -> None:
    close_user_sockets(user.pk, "credentials changed")


@receiver(
    post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="prices.close_sockets_on_deactivation"
)
def close_sockets_on_deactivation(sender, instance, created: bool, **kwargs) -> None:
    """An account an admin deactivated hears nothing more on sockets it opened before."""
    if not created and not instance.is_active:
        user_id = instance.pk
        transaction.on_commit(lambda: close_user_sockets(user_id, "account deactivated"))


@receiver(token_revoked, dispatch_uid="prices.close_sockets_on_token_revoked")
def close_sockets_on_token_revoked(sender, token_id: int, **kwargs) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(
            token_group(token_id), {"type": "token.revoked", "reason": "token revoked"}
        )
    except Exception:
        # The revocation itself stands: a new socket with the key is refused.
        log.exception("could not close the sockets of API token %s", token_id)
