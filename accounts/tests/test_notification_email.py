"""A notification address: confirmed by a signed link of ours, never a way into an account.

It lives on the profile only: allauth's EmailAddress table (logins, password
resets, one account per address at sign-up) never sees it, so confirming a
shared mailbox or a stranger's address gives nobody a login, a reset link or a
block on someone's sign-up.
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.test import Client

from accounts.models import Profile
from accounts.tests.flows import sign_up

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]

TEAM = "alerts@team.example"
VICTIM = "victim@example.com"
ALICES = "pw-alice-123"  # the owner's password (conftest.py)


@pytest.fixture
def set_address(private_cache, django_capture_on_commit_callbacks):
    """Set a notification address on the account page, as the client's user."""

    def set_address(client, address: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/account/", {"notification_email": address, "time_zone": "UTC"})
        assert response.status_code == 302, response.content.decode()[:2000]

    return set_address


@pytest.fixture
def alice(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def mallory(stranger):
    client = Client()
    client.force_login(stranger)
    return client


def mails_to(address: str) -> list:
    return [message for message in mail.outbox if message.to == [address]]


def confirmation_link(address: str) -> str:
    """The path of the link in the last mail to `address`."""
    body = mails_to(address)[-1].body
    return re.search(r"https?://[^/\s]+(/\S*confirm\S*/)", body).group(1)


def follow(link: str, django_capture_on_commit_callbacks) -> None:
    """Whoever reads the mailbox follows the link: no session of the requester's."""
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(link)


@pytest.fixture
def confirmed_team_address(alice, owner, set_address, django_capture_on_commit_callbacks):
    set_address(alice, TEAM)
    follow(confirmation_link(TEAM), django_capture_on_commit_callbacks)
    assert Profile.for_user(owner).alert_email == TEAM
    mail.outbox.clear()


@pytest.mark.usefixtures("confirmed_team_address")
def test_a_confirmed_notification_address_gets_no_password_reset_link():
    Client().post("/accounts/password/reset/", {"email": TEAM})

    assert not any("/accounts/password/reset/key/" in message.body for message in mail.outbox)


@pytest.mark.usefixtures("confirmed_team_address")
def test_a_confirmed_notification_address_is_no_login():
    visitor = Client()

    response = visitor.post("/accounts/login/", {"login": TEAM, "password": ALICES})

    assert response.status_code == 200
    assert visitor.get("/account/").status_code == 302


@pytest.mark.usefixtures("confirmed_team_address")
def test_a_notification_address_never_becomes_one_of_the_accounts_addresses(owner):
    assert list(EmailAddress.objects.filter(user=owner).values_list("email", flat=True)) == [
        "alice@example.com"
    ]


def test_someone_elses_notification_address_does_not_block_their_sign_up(mallory, set_address):
    set_address(mallory, VICTIM)

    response = sign_up(Client(), "victim", VICTIM)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert get_user_model().objects.filter(username="victim", email=VICTIM).exists()


def test_the_confirmation_mail_does_not_name_who_asked(mallory, set_address):
    set_address(mallory, VICTIM)

    [message] = mails_to(VICTIM)
    assert "mallory" not in f"{message.subject}\n{message.body}".lower()
    assert "ignore this mail" in message.body


def test_two_accounts_can_confirm_one_shared_address(
    alice, mallory, owner, stranger, set_address, django_capture_on_commit_callbacks
):
    for client in (alice, mallory):
        # One mail per address every few minutes (the rate limit has its own
        # test): let the second teammate's through at once.
        cache.clear()
        set_address(client, TEAM)
        follow(confirmation_link(TEAM), django_capture_on_commit_callbacks)

    assert Profile.for_user(owner).alert_email == TEAM
    assert Profile.for_user(stranger).alert_email == TEAM


def test_the_link_confirms_the_address_on_a_post(alice, owner, set_address):
    set_address(alice, TEAM)
    link = confirmation_link(TEAM)
    reader = Client()

    page = reader.get(link)
    # A mail scanner fetching the link confirms nothing; the page names no account.
    assert page.status_code == 200
    assert "alice" not in page.content.decode().lower()
    assert Profile.for_user(owner).alert_email == "alice@example.com"

    response = reader.post(link)

    assert response.status_code == 200
    assert "confirmed" in response.content.decode()
    assert Profile.for_user(owner).alert_email == TEAM


def test_a_link_for_an_old_address_does_not_confirm_the_new_one(
    alice, owner, set_address, django_capture_on_commit_callbacks
):
    set_address(alice, "old@alice.example")
    old_link = confirmation_link("old@alice.example")
    set_address(alice, "new@alice.example")

    follow(old_link, django_capture_on_commit_callbacks)

    profile = Profile.for_user(owner)
    assert profile.notification_email == "new@alice.example"
    assert profile.notification_email_unconfirmed
    assert profile.alert_email == "alice@example.com"


def test_a_link_older_than_three_days_confirms_nothing(alice, owner, set_address):
    set_address(alice, TEAM)
    link = confirmation_link(TEAM)
    later = time.time() + 3 * 24 * 3600 + 60

    with mock.patch("django.core.signing.time", SimpleNamespace(time=lambda: later)):
        response = Client().post(link)

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert Profile.for_user(owner).alert_email == "alice@example.com"


def test_a_tampered_link_confirms_nothing(alice, owner, set_address):
    set_address(alice, TEAM)
    link = confirmation_link(TEAM)

    response = Client().post(link.replace(":", "x:", 1))

    assert response.status_code == 400
    assert Profile.for_user(owner).notification_email_unconfirmed


def test_changing_a_confirmed_address_unconfirms_it(alice, owner, set_address):
    set_address(alice, TEAM)
    Client().post(confirmation_link(TEAM))

    set_address(alice, "other@team.example")

    assert Profile.for_user(owner).alert_email == "alice@example.com"
    assert mails_to("other@team.example")


def test_the_address_gets_one_mail_however_often_it_is_asked_for(alice, set_address):
    set_address(alice, TEAM)
    set_address(alice, "")
    set_address(alice, TEAM)
    alice.post("/account/notification-email/send/")

    assert len(mails_to(TEAM)) == 1


def test_saving_a_profile_outside_a_page_sends_nothing_and_adds_no_address(
    owner, django_capture_on_commit_callbacks
):
    # A shell, a fixture, a data migration: saving is not asking.
    with django_capture_on_commit_callbacks(execute=True):
        Profile.objects.create(user=owner, notification_email=TEAM)

    assert mail.outbox == []
    assert not EmailAddress.objects.filter(email=TEAM).exists()
    assert Profile.for_user(owner).alert_email == "alice@example.com"


def test_the_notification_settings_page_mails_the_link_too(alice, owner):
    alice.post("/notifications/settings/", {"notification_email": TEAM, "apprise_urls": ""})

    Client().post(confirmation_link(TEAM))

    assert Profile.for_user(owner).alert_email == TEAM


def test_the_api_mails_the_link_too(owner_api, owner):
    owner_api.patch("/api/v1/me/", {"notification_email": TEAM}, format="json")

    Client().post(confirmation_link(TEAM))

    assert owner_api.get("/api/v1/me/").json()["alert_email"] == TEAM


def test_the_admin_shows_the_confirmed_state_and_sends_the_link(admin_client, owner):
    profile = Profile.objects.create(user=owner, notification_email=TEAM)

    listing = admin_client.get("/admin/accounts/profile/")
    assert listing.status_code == 200
    assert TEAM in listing.content.decode()

    admin_client.post(
        "/admin/accounts/profile/",
        {"action": "send_confirmation", "_selected_action": [profile.pk]},
    )
    Client().post(confirmation_link(TEAM))

    assert Profile.for_user(owner).alert_email == TEAM
