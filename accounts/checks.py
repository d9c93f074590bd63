"""System checks: the settings accounts' security relies on are in place."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

END_OTHER_CREDENTIALS = "accounts.passwords.EndOtherCredentials"


def end_other_credentials_installed(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A new password revokes tokens only through this AUTH_PASSWORD_VALIDATORS entry.

    It validates nothing, so dropping it (tidying the list, a copied settings
    file) breaks no password and no test of the list: only this check says so.
    """
    names = [entry.get("NAME") for entry in settings.AUTH_PASSWORD_VALIDATORS]
    if END_OTHER_CREDENTIALS in names:
        return []
    return [
        checks.Error(
            f"AUTH_PASSWORD_VALIDATORS lacks {END_OTHER_CREDENTIALS}: a password change or "
            "reset would no longer revoke the user's API tokens or close their sockets.",
            hint=f'Add {{"NAME": "{END_OTHER_CREDENTIALS}"}} to AUTH_PASSWORD_VALIDATORS.',
            id="accounts.E001",
        )
    ]
