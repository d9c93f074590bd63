"""/account/tokens/: users create, see and revoke their API tokens."""

import re

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def test_the_owner_sees_their_active_tokens_and_the_revoked_ones_apart(signed_in, owner, stranger):
    ApiToken.issue(owner, "backup script")
    revoked, _ = ApiToken.issue(owner, "old laptop")
    revoked.revoke()
    ApiToken.issue(stranger, "mallory's bot")
    page = signed_in.get("/account/tokens/").content.decode()
    active, _, revoked_part = page.partition('id="revoked-tokens"')
    assert "backup script" in active and "old laptop" not in active
    assert "old laptop" in revoked_part and "backup script" not in revoked_part
    assert "mallory" not in page


def test_creating_a_token_shows_its_key_once(signed_in, owner):
    response = signed_in.post("/account/tokens/", {"name": "cron"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    key = re.search(r'id="new-token-key" value="([^"]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=owner)
    assert token.key_hash == ApiToken.hash_key(key)
    assert key not in signed_in.get("/account/tokens/").content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/me/").json()["username"] == "alice"


def test_it_rejects_a_token_without_a_name(signed_in):
    response = signed_in.post("/account/tokens/", {"name": ""})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_the_owner_revokes_a_token(signed_in, owner):
    token, key = ApiToken.issue(owner, "cron")
    response = signed_in.post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/me/").status_code == 401


def test_revoking_needs_a_post(signed_in, owner):
    token, _ = ApiToken.issue(owner, "cron")
    assert signed_in.get(f"/account/tokens/{token.pk}/revoke/").status_code == 405


def test_a_stranger_cannot_revoke_the_owners_token(client, stranger, owner):
    token, _ = ApiToken.issue(owner, "cron")
    client.force_login(stranger)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_anonymous_visitors_are_sent_to_log_in(client, owner):
    token, _ = ApiToken.issue(owner, "cron")
    assert client.get("/account/tokens/")["Location"].startswith("/accounts/login/")
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None
