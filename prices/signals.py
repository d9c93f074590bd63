"""Open sockets let a user go: on logout, and when accounts says their credentials changed.

A socket keeps the user its session named at the handshake. These receivers
tell every socket of that user, through the channel layer, to close
(prices.consumers.PriceConsumer.user_signed_out); browsers reconnect as
whoever their session now says, anonymous after a logout: the logout
receiver ends the session before it closes the sockets.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from accounts.signals import credentials_changed
from common.live_groups import user_group

log = logging.getLogger(__name__)


def close_user_sockets(user_id: int, reason: str) -> None:
    """Close every open socket of a user, in every daphne process."""
    try:
        async_to_sync(get_channel_layer().group_send)(
            user_group(user_id), {"type": "user.signed_out", "reason": reason}
        )
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
    close_user_sockets(user.pk, "signed out")


@receiver(credentials_changed, dispatch_uid="prices.close_sockets_on_credentials_changed")
def close_sockets_on_credentials_changed(sender, user, **kwargs) -> None:
    close_user_sockets(user.pk, "credentials changed")
