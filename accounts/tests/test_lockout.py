"""One lockout for every door that takes a password: allauth's login, the admin, the token endpoint.

The test settings keep the defaults: LOGIN_FAILED_RATE_LIMIT = 10/m/ip,5/5m/key.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.tests.flows import reset_password_by_email, sign_up

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]

HERE, THERE = "10.1.0.1", "10.2.0.2"
RIGHT = "pw-alice-123"  # the owner's password (conftest.py)


def ask_for_a_token(api_client, login="alice", password=RIGHT, address=HERE):
    return api_client.post(
        "/api/v1/auth/token/",
        {"username": login, "password": password, "name": "script"},
        format="json",
        REMOTE_ADDR=address,
    )


def log_in(client, login="alice", password=RIGHT, address=HERE):
    return client.post(
        "/accounts/login/", {"login": login, "password": password}, REMOTE_ADDR=address
    )


def fail_at_the_token_endpoint(api_client, times: int, login="alice", address=HERE) -> None:
    for _ in range(times):
        response = ask_for_a_token(api_client, login=login, password="wrong", address=address)
        assert response.status_code in (400, 429)


def assert_locked_out(response) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 300


def test_wrong_passwords_at_the_token_endpoint_lock_it_for_the_account(api_client, owner):
    fail_at_the_token_endpoint(api_client, 6)

    response = ask_for_a_token(api_client)

    assert_locked_out(response)
    error = response.json()["error"]
    assert error["code"] == "too_many_login_attempts"
    assert "Too many failed login attempts" in error["message"]


def test_wrong_passwords_at_the_token_endpoint_lock_the_login_page(api_client, client, owner):
    fail_at_the_token_endpoint(api_client, 6)

    response = log_in(client)

    assert_locked_out(response)
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get("/account/").status_code == 302


def test_wrong_passwords_on_the_login_page_lock_the_token_endpoint(api_client, client, owner):
    for _ in range(5):
        log_in(client, password="wrong")

    assert_locked_out(ask_for_a_token(api_client))


def test_failures_under_the_username_lock_logins_by_email_address(api_client, client, owner):
    # The lockout is the account's, whichever name it was tried under.
    fail_at_the_token_endpoint(api_client, 5, login="alice")

    assert_locked_out(log_in(client, login="alice@example.com"))


def test_the_lockout_follows_the_account_to_another_address(api_client, client, owner):
    fail_at_the_token_endpoint(api_client, 5, address=HERE)

    assert_locked_out(log_in(client, address=THERE))
    assert_locked_out(ask_for_a_token(api_client, address=THERE))


def test_an_address_failing_for_many_accounts_is_locked_for_every_account(api_client, owner):
    for n in range(10):
        ask_for_a_token(api_client, login=f"guess{n}", password="wrong", address=HERE)

    assert_locked_out(ask_for_a_token(api_client, address=HERE))
    assert ask_for_a_token(api_client, address=THERE).status_code == 201


def test_the_admin_login_takes_no_password_itself(client, admin_user):
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": "password"}
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/admin/").status_code == 302


def test_the_admin_login_is_locked_after_failures_elsewhere(api_client, client, admin_user):
    fail_at_the_token_endpoint(api_client, 5, login="admin")
    # Wherever the admin's login page leads (here: allauth's login page).
    landing = client.get("/admin/login/?next=/admin/", follow=True)
    login_url = landing.redirect_chain[-1][0] if landing.redirect_chain else "/admin/login/"

    response = client.post(
        login_url,
        {"login": "admin", "username": "admin", "password": "password"},
        REMOTE_ADDR=HERE,
    )

    assert_locked_out(response)
    assert client.get("/admin/").status_code == 302


def test_the_admin_logs_in_through_the_login_page(client, admin_user):
    landing = client.get("/admin/login/?next=/admin/", follow=True)

    client.post(landing.redirect_chain[-1][0], {"login": "admin", "password": "password"})

    assert client.get("/admin/").status_code == 200


def test_a_password_reset_lifts_the_accounts_lockout(api_client, client, owner):
    fail_at_the_token_endpoint(api_client, 5, login="alice")

    reset_password_by_email(client, "alice@example.com", new="a-new-Passphrase-77")

    assert ask_for_a_token(api_client, password="a-new-Passphrase-77").status_code == 201


def test_a_username_shaped_like_an_address_is_refused_at_sign_up(client, owner):
    response = sign_up(client, "alice@example.com", "mallory2@example.com")

    assert response.status_code == 200
    assert "A username cannot contain @" in response.content.decode()
    assert not django_user_exists("alice@example.com")


def django_user_exists(username: str) -> bool:
    return get_user_model().objects.filter(username=username).exists()


def test_an_older_username_shaped_like_an_address_does_not_split_the_lockout(
    api_client, owner, django_user_model
):
    # Made before sign-up refused "@" in usernames.
    django_user_model.objects.create_user("alice@example.com", "m@example.com", "pw-m-12345")
    fail_at_the_token_endpoint(api_client, 3, login="alice")
    fail_at_the_token_endpoint(api_client, 2, login="alice@example.com")

    assert_locked_out(ask_for_a_token(api_client, login="alice"))
