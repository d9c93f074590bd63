"""Personal API tokens: getting one, using it (Token or Bearer), revoking it."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def with_header(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


@pytest.fixture
def issued(owner):
    return ApiToken.issue(owner, "script")


def test_a_token_works_with_the_token_keyword(issued):
    response = with_header(f"Token {issued[1]}").get("/api/v1/me/")
    assert (response.status_code, response.json()["username"]) == (200, "alice")


def test_a_token_works_with_the_bearer_keyword(issued):
    response = with_header(f"Bearer {issued[1]}").get("/api/v1/me/")
    assert (response.status_code, response.json()["username"]) == (200, "alice")


def test_a_wrong_token_is_a_401(issued):
    response = with_header("Token not-the-key").get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_header_without_a_key_is_a_401(issued):
    assert with_header("Token").get("/api/v1/me/").status_code == 401


def test_a_revoked_token_is_a_401(issued):
    issued[0].revoke()
    assert with_header(f"Token {issued[1]}").get("/api/v1/me/").status_code == 401


def test_a_token_of_an_inactive_user_is_a_401(issued, owner):
    owner.is_active = False
    owner.save()
    assert with_header(f"Token {issued[1]}").get("/api/v1/me/").status_code == 401


def test_only_a_hash_of_the_key_is_stored(issued):
    token, key = issued
    token.refresh_from_db()
    assert key not in {token.key_hash, token.prefix, token.name}
    assert token.key_hash == ApiToken.hash_key(key)


def test_use_is_recorded_at_most_once_a_minute(issued):
    token, key = issued
    with_header(f"Token {key}").get("/api/v1/me/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    with_header(f"Token {key}").get("/api/v1/me/")
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    with_header(f"Token {key}").get("/api/v1/me/")
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(seconds=1)


def test_a_session_needs_a_csrf_token_to_write(owner):
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(owner)
    assert session.get("/api/v1/me/").status_code == 200
    response = session.patch("/api/v1/me/", {"time_zone": "Europe/Paris"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "CSRF" in response.json()["error"]["message"]


def obtain(client: APIClient, REMOTE_ADDR: str = "127.0.0.1", **data):  # noqa: N803
    body = {"username": "alice", "password": "pw-alice-123", "name": "cron", **data}
    return client.post("/api/v1/auth/token/", body, format="json", REMOTE_ADDR=REMOTE_ADDR)


def test_it_gives_a_token_for_a_username_and_password(api_client, owner):
    response = obtain(api_client)
    assert response.status_code == 201
    key = response.json()["token"]
    token = ApiToken.objects.get(user=owner, name="cron")
    assert token.key_hash == ApiToken.hash_key(key)
    assert with_header(f"Token {key}").get("/api/v1/alerts/").status_code == 200


def test_it_refuses_a_wrong_password(api_client, owner):
    response = obtain(api_client, password="wrong")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "non_field_errors": ["Unable to log in with these credentials."]
    }
    assert not ApiToken.objects.exists()


def test_it_requires_a_token_name(api_client, owner):
    response = obtain(api_client, name="")
    assert list(response.json()["error"]["fields"]) == ["name"]


def test_getting_tokens_is_rate_limited(api_client, owner, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1000/min", "user": "1000/min", "token_obtain": "2/min"},
    }
    # An address of this test only: the limit counts per IP in the shared cache.
    ip = f"10.7.{random.randrange(256)}.{random.randrange(256)}"
    assert obtain(api_client, password="wrong", REMOTE_ADDR=ip).status_code == 400
    assert obtain(api_client, password="wrong", REMOTE_ADDR=ip).status_code == 400
    response = obtain(api_client, REMOTE_ADDR=ip)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert not ApiToken.objects.filter(name="cron").exists()


def test_revoking_one_token_keeps_the_others_working(issued):
    other, other_key = ApiToken.issue(issued[0].user, "other")
    issued[0].revoke()
    assert with_header(f"Bearer {other_key}").get("/api/v1/me/").status_code == 200
    assert other.revoked_at is None and issued[0].revoked_at <= timezone.now()
