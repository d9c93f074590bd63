"""A new password ends the user's other credentials: API tokens, other sessions, open sockets."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.signals import credentials_changed
from accounts.tests.flows import NEW_PASSWORD, change_password, reset_password_by_email

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]


def token_api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def refused_for_get_and_patch(key: str) -> bool:
    api = token_api(key)
    statuses = (
        api.get("/api/v1/me/").status_code,
        api.patch("/api/v1/me/", {"time_zone": "Europe/Paris"}, format="json").status_code,
    )
    return statuses == (401, 401)


def test_a_password_change_on_the_account_pages_revokes_the_users_tokens(client, owner):
    _, key = ApiToken.issue(owner, "script")
    assert token_api(key).get("/api/v1/me/").status_code == 200
    client.force_login(owner)

    change_password(client, "pw-alice-123")

    assert refused_for_get_and_patch(key)


def test_a_password_reset_by_the_emailed_link_revokes_the_users_tokens(client, owner):
    _, key = ApiToken.issue(owner, "script")

    reset_password_by_email(client, "alice@example.com")

    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert refused_for_get_and_patch(key)


def test_the_admins_set_password_form_revokes_the_users_tokens(client, owner, admin_user):
    _, key = ApiToken.issue(owner, "script")
    client.force_login(admin_user)

    response = client.post(
        f"/admin/auth/user/{owner.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert refused_for_get_and_patch(key)


def test_set_password_anywhere_revokes_the_users_tokens_and_only_theirs(owner, stranger):
    # What `manage.py changepassword` and any code do: set_password() and save().
    _, key = ApiToken.issue(owner, "script")
    _, strangers_key = ApiToken.issue(stranger, "script")

    owner.set_password(NEW_PASSWORD)
    owner.save()

    assert refused_for_get_and_patch(key)
    assert token_api(strangers_key).get("/api/v1/me/").status_code == 200


def test_a_password_hash_upgrade_at_login_revokes_nothing(client, owner, settings):
    # check_password() re-hashes an outdated hash and saves it: not a new password.
    _, key = ApiToken.issue(owner, "script")
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    assert owner.check_password("pw-alice-123")

    owner.refresh_from_db()
    assert owner.password.startswith("pbkdf2_sha1$")
    assert token_api(key).get("/api/v1/me/").status_code == 200


def test_the_tokens_page_lists_the_tokens_a_password_change_revoked(client, owner):
    ApiToken.issue(owner, "backup script")
    client.force_login(owner)

    change_password(client, "pw-alice-123")

    page = client.get("/account/tokens/").content.decode()
    assert "You have no active tokens." in page
    assert "backup script" in page.partition('id="revoked-tokens"')[2]


def test_a_password_change_tells_the_socket_layer_to_let_the_user_go(
    client, owner, django_capture_on_commit_callbacks
):
    received = []

    def receiver(sender, user, **kwargs):
        received.append(user.pk)

    credentials_changed.connect(receiver)
    try:
        client.force_login(owner)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            change_password(client, "pw-alice-123")
            # Sent once the new password is committed, not before.
            assert received == []
    finally:
        credentials_changed.disconnect(receiver)

    assert callbacks
    assert received == [owner.pk]


def test_a_password_change_ends_the_users_other_sessions_and_keeps_this_one(client, owner):
    # Django's session auth hash does this; kept here with the rest of the rule.
    other = type(client)()
    client.force_login(owner)
    other.force_login(owner)

    change_password(client, "pw-alice-123")

    assert client.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302


def test_a_password_reset_ends_the_users_sessions(client, owner):
    # Again Django's session auth hash; kept here with the rest of the rule.
    signed_in = type(client)()
    signed_in.force_login(owner)

    reset_password_by_email(client, "alice@example.com")

    assert signed_in.get("/account/").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_token_revoked_by_a_password_change_gets_no_304_either(owner):
    # Transactional: the list's ETag is read outside a transaction.
    _, key = ApiToken.issue(owner, "script")
    api = token_api(key)
    etag = api.get("/api/v1/alerts/")["ETag"]

    owner.set_password(NEW_PASSWORD)
    owner.save()

    get = api.get("/api/v1/alerts/", HTTP_IF_NONE_MATCH=etag)

    assert get.status_code == 401
    assert get.json()["error"]["code"] == "authentication_failed"
