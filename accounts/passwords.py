"""A new password ends every other credential of the user.

Someone who held the account (or signed up with its address before its owner
recovered it) must lose it with the old password: the user's API tokens are
revoked, the apps above are told to close the user's open sockets
(accounts.signals.credentials_changed), and Django itself ends the user's
other sessions (their stored session hash no longer matches; the page that
changed the password keeps its own through update_session_auth_hash).

The hook is Django's: after every set_password() that is saved,
AbstractBaseUser.save() calls password_changed() on each
AUTH_PASSWORD_VALIDATORS entry. That one call covers every way a password
changes (allauth's change, reset and set pages, the admin's form,
`manage.py changepassword`, code), where allauth's signals cover only its own
pages and a post_save check could not tell a new password from a hash
upgrade at login (check_password saves those without calling the hook).
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import ApiToken
from accounts.signals import credentials_changed


class EndOtherCredentials:
    """An AUTH_PASSWORD_VALIDATORS entry that validates nothing, for its password_changed()."""

    def validate(self, password: str, user=None) -> None:
        return None

    def password_changed(self, password: str, user=None) -> None:
        if user is not None and user.pk is not None:
            end_other_credentials(user)

    def get_help_text(self) -> str:
        return "A new password revokes your API tokens and signs out your other sessions."


def end_other_credentials(user) -> int:
    """Revoke the user's API tokens and have their open sockets closed; return how many tokens."""
    revoked = ApiToken.objects.filter(user=user).revoke()
    # Sockets belong to a session (a login sets last_login) or to a token: a
    # user just created by create_user() has neither, and nothing to close.
    if revoked or user.last_login is not None:
        # After the commit: a socket closed earlier could reconnect with the
        # old session, still valid until the new password is committed.
        transaction.on_commit(
            lambda: credentials_changed.send(sender=type(user), user=user), robust=True
        )
    return revoked
