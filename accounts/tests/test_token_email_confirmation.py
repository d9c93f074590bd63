"""API tokens only once the account's address is confirmed (API_TOKENS_REQUIRE_VERIFIED_EMAIL)."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from accounts.models import ApiToken

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]


@pytest.fixture
def newcomer(django_user_model):
    """Signed up with an address nobody has confirmed (someone else's, maybe)."""
    user = django_user_model.objects.create_user("carol", "carol@example.com", CAROLS)
    EmailAddress.objects.create(user=user, email="carol@example.com", primary=True)
    return user


CAROLS = "pw-carol-123"


def ask_for_a_token(api_client, login: str = "carol", password: str = CAROLS):
    return api_client.post(
        "/api/v1/auth/token/",
        {"username": login, "password": password, "name": "script"},
        format="json",
    )


def test_an_unconfirmed_account_gets_a_403_from_the_token_endpoint(api_client, newcomer):
    response = ask_for_a_token(api_client)

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "email_unverified"
    assert "carol@example.com" in error["message"]
    assert not ApiToken.objects.exists()


def test_a_wrong_password_of_an_unconfirmed_account_is_still_a_400(api_client, newcomer):
    # The 403 says nothing to someone without the password.
    assert ask_for_a_token(api_client, password="wrong").status_code == 400


def test_once_confirmed_the_account_gets_its_token(api_client, newcomer):
    EmailAddress.objects.filter(user=newcomer).update(verified=True)

    assert ask_for_a_token(api_client).status_code == 201


def test_a_confirmed_second_address_is_not_enough(api_client, newcomer):
    # The account's own address is the one a takeover would have pre-registered.
    EmailAddress.objects.create(user=newcomer, email="carol@elsewhere.example", verified=True)

    assert ask_for_a_token(api_client).status_code == 403


def test_the_tokens_page_creates_none_until_the_address_is_confirmed(client, newcomer):
    client.force_login(newcomer)

    page = client.get("/account/tokens/").content.decode()
    response = client.post("/account/tokens/", {"name": "cron"})

    assert 'id="confirm-email-first"' in page
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_the_tokens_page_offers_to_send_the_confirmation_link_again(client, newcomer):
    client.force_login(newcomer)
    page = client.get("/account/tokens/").content.decode()
    notice = page.split('id="confirm-email-first"')[1]
    form = re.search(r'<form method="post" action="([^"]+)".*?</form>', notice, re.S)
    fields = dict(re.findall(r'name="(email|action_send)"(?: value="([^"]*)")?', form.group(0)))

    client.post(form.group(1), fields)

    assert [message.to for message in mail.outbox] == [["carol@example.com"]]


def test_no_confirmation_is_needed_when_the_setting_is_off(api_client, newcomer, settings):
    settings.API_TOKENS_REQUIRE_VERIFIED_EMAIL = False

    assert ask_for_a_token(api_client).status_code == 201
