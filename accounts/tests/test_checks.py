"""`manage.py check` fails when the hook that revokes tokens on a new password is gone."""

from __future__ import annotations

from django.core.checks import run_checks

END_OTHER_CREDENTIALS = "accounts.passwords.EndOtherCredentials"


def check_ids() -> set[str]:
    return {message.id for message in run_checks()}


def test_the_check_passes_with_the_projects_settings():
    assert "accounts.E001" not in check_ids()


def test_removing_end_other_credentials_from_the_password_validators_is_an_error(settings):
    settings.AUTH_PASSWORD_VALIDATORS = [
        entry
        for entry in settings.AUTH_PASSWORD_VALIDATORS
        if entry["NAME"] != END_OTHER_CREDENTIALS
    ]

    assert "accounts.E001" in check_ids()
