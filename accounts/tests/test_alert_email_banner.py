"""Every page tells a signed-in user whose alert mail has nowhere to go, and offers the link.

Accounts made before alert mail needed a confirmed address (sign-up under
ACCOUNT_EMAIL_VERIFICATION=optional) would otherwise lose every alert email
without a word.
"""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from accounts.models import Profile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]

BANNER = 'id="alert-email-banner"'
PAGES = ["/", "/alerts/", "/notifications/", "/account/"]


@pytest.fixture
def unconfirmed(client, django_user_model):
    """Signed up before the upgrade: an address allauth lists but nobody confirmed."""
    user = django_user_model.objects.create_user("carol", "carol@example.com", "pw-carol-123")
    EmailAddress.objects.create(user=user, email="carol@example.com", primary=True)
    client.force_login(user)
    return user


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.usefixtures("unconfirmed")
def test_every_page_says_alert_mail_waits_for_a_confirmed_address(client, page):
    html = client.get(page).content.decode()

    assert BANNER in html
    assert "Alert emails are not sent until you confirm your address" in html
    assert "<strong>carol@example.com</strong>" in html


@pytest.mark.usefixtures("unconfirmed")
def test_the_banner_sends_the_link_to_the_accounts_address(client):
    html = client.get("/alerts/").content.decode()
    assert 'action="/accounts/email/"' in html

    client.post("/accounts/email/", {"email": "carol@example.com", "action_send": ""})

    [link] = mail.outbox
    assert link.to == ["carol@example.com"]


def test_the_banner_offers_the_link_of_an_unconfirmed_notification_address(client, unconfirmed):
    Profile.objects.create(user=unconfirmed, notification_email="alerts@carol.example")

    html = client.get("/alerts/").content.decode()
    assert 'action="/account/notification-email/send/"' in html
    client.post("/account/notification-email/send/", {"next": "/alerts/"})

    [link] = mail.outbox
    assert link.to == ["alerts@carol.example"]


@pytest.mark.parametrize("page", PAGES)
def test_no_banner_once_alert_mail_has_a_confirmed_address(client, owner, page):
    client.force_login(owner)

    assert BANNER not in client.get(page).content.decode()


def test_no_banner_for_visitors(client):
    assert BANNER not in client.get("/").content.decode()
