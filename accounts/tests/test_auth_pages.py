import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from accounts.tests.flows import NEW_PASSWORD, change_password, reset_password_by_email

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]


def logged_in_username(client) -> str | None:
    response = client.get("/account/")
    return response.context["user"].username if response.status_code == 200 else None


def test_the_login_page_uses_the_site_layout(client):
    html = client.get("/accounts/login/").content.decode()

    assert 'id="connection-status"' in html
    assert '<label for="id_login">Username or email</label>' in html
    assert '<label for="id_password">' in html


def test_it_signs_up_and_logs_in_a_new_user(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )

    assert response.status_code == 302
    assert get_user_model().objects.filter(username="carol").exists()
    assert logged_in_username(client) == "carol"


def test_it_refuses_a_signup_with_mismatched_passwords(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a-long-Passphrase-42",
            "password2": "another-Passphrase-42",
        },
    )

    assert response.status_code == 200
    assert "field-error" in response.content.decode()
    assert not get_user_model().objects.filter(username="carol").exists()


@pytest.mark.parametrize("login", ["alice", "alice@example.com"])
def test_it_logs_in_with_username_or_email(client, owner, login):
    client.post("/accounts/login/", {"login": login, "password": "pw-alice-123"})

    assert logged_in_username(client) == "alice"


def test_it_refuses_a_wrong_password(client, owner):
    response = client.post("/accounts/login/", {"login": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert logged_in_username(client) is None


def test_it_refuses_logins_after_repeated_wrong_passwords(client, owner):
    for _ in range(5):
        client.post("/accounts/login/", {"login": "alice", "password": "wrong"})

    response = client.post("/accounts/login/", {"login": "alice", "password": "pw-alice-123"})

    assert response.status_code in (200, 429)
    assert "Too many failed login attempts" in response.content.decode()
    assert logged_in_username(client) is None


def test_it_logs_out_on_post(client, owner):
    client.force_login(owner)

    client.post("/accounts/logout/")

    assert logged_in_username(client) is None


def test_it_changes_the_password(client, owner):
    client.force_login(owner)

    change_password(client, "pw-alice-123")

    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_it_resets_a_forgotten_password_by_email(client, owner):
    reset_password_by_email(client, "alice@example.com")

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_it_says_the_same_for_an_unknown_email(client, owner):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"


def test_the_email_page_lists_the_users_addresses(client, owner):
    client.post("/accounts/login/", {"login": "alice", "password": "pw-alice-123"})

    html = client.get("/accounts/email/").content.decode()

    assert "alice@example.com" in html


def test_pages_we_do_not_override_still_use_the_site_layout(client):
    client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", mail.outbox[0].body)

    html = client.get(link.group(1)).content.decode()

    assert re.search(r"<title>\s*Confirm Email Address\s*· CryptoMonitor</title>", html)
    assert 'id="connection-status"' in html
