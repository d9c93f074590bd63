"""Alert email goes only to confirmed addresses; a new notification address gets a link first.

Mail of both kinds (the confirmation link, our alerts) reaches a real SMTP
server on 127.0.0.1. How the link works: accounts/tests/test_notification_email.py.
"""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from notifications.delivery import deliver
from notifications.models import DeliveryStatus

pytestmark = pytest.mark.django_db

NEW_ADDRESS = "alerts@alice.example"


@pytest.fixture(autouse=True)
def private_cache(settings, request):
    """The confirmation rate limit counts per address: a cache of the test's own."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        },
    }


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def set_address(signed_in):
    """Set the notification address on a settings page, as the owner."""

    def set_address(address: str, page: str = "/account/") -> None:
        response = signed_in.post(page, {"notification_email": address, "time_zone": "UTC"})
        assert response.status_code == 302, response.content.decode()[:2000]

    return set_address


def recipients(smtp) -> list[str]:
    return [message["To"] for message in smtp.messages]


def alert_mailed_to(smtp, owner, fire) -> str:
    [delivery] = fire(owner)
    assert deliver(delivery.pk) == DeliveryStatus.SENT
    return smtp.messages[-1]["To"]


def test_an_unconfirmed_notification_address_receives_only_the_confirmation(
    smtp, owner, fire, set_address
):
    set_address(NEW_ADDRESS)

    assert alert_mailed_to(smtp, owner, fire) == "alice@example.com"
    assert recipients(smtp) == [NEW_ADDRESS, "alice@example.com"]
    assert "Confirm" in smtp.messages[0]["Subject"]


def test_after_the_link_is_followed_alerts_go_to_the_notification_address(
    smtp, owner, fire, set_address
):
    set_address(NEW_ADDRESS)
    body = smtp.messages[0].get_body(("plain",)).get_content()
    link = re.search(r"https?://[^/\s]+(/account/notification-email/confirm/\S+/)", body).group(1)

    # Whoever reads that mailbox, signed in or not.
    Client().post(link)

    assert alert_mailed_to(smtp, owner, fire) == NEW_ADDRESS
    # The account's own address stays the account's.
    owner.refresh_from_db()
    assert owner.email == "alice@example.com"


def test_the_notification_settings_page_asks_for_confirmation_too(smtp, owner, fire, set_address):
    set_address(NEW_ADDRESS, page="/notifications/settings/")

    assert recipients(smtp) == [NEW_ADDRESS]
    assert alert_mailed_to(smtp, owner, fire) == "alice@example.com"


def test_an_address_gets_one_confirmation_however_often_it_is_set(smtp, set_address):
    set_address(NEW_ADDRESS)
    set_address("other@alice.example")
    set_address(NEW_ADDRESS)

    assert recipients(smtp) == [NEW_ADDRESS, "other@alice.example"]


def test_sending_the_link_again_is_rate_limited(smtp, set_address, signed_in):
    set_address(NEW_ADDRESS)

    for _ in range(3):
        signed_in.post("/account/notification-email/send/")

    assert recipients(smtp) == [NEW_ADDRESS]


def test_the_account_page_says_where_alerts_go_until_the_address_is_confirmed(
    smtp, set_address, signed_in
):
    set_address(NEW_ADDRESS)

    page = signed_in.get("/account/").content.decode()

    assert f"Alert emails go to <strong>{NEW_ADDRESS}</strong> once the link" in page
    assert "Until then they go to <strong>alice@example.com</strong>" in page


def test_no_alert_mail_goes_to_an_unconfirmed_account_address(smtp, fire, django_user_model):
    # Signed up with someone else's address and never confirmed it.
    user = django_user_model.objects.create_user("carol", "victim@example.com", "pw-carol-123")
    EmailAddress.objects.create(user=user, email="victim@example.com", primary=True)
    [delivery] = fire(user)

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert "none of the account's is confirmed" in delivery.last_error
    assert smtp.messages == []
