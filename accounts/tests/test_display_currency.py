"""Each user picks the currency pages show prices in: the account page and /api/v1/me/."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.middleware import UserPreferencesMiddleware
from accounts.models import Profile

pytestmark = pytest.mark.django_db


def test_a_new_profile_shows_prices_in_the_base_currency(owner):
    assert Profile.for_user(owner).display_currency == "usd"


def test_the_account_page_offers_every_display_currency(client, owner):
    client.force_login(owner)

    page = client.get("/account/").content.decode()

    assert '<option value="jpy">JPY: Japanese yen</option>' in page
    assert "converted from USD with CoinGecko's exchange rates" in page


def test_the_account_page_saves_the_display_currency(client, owner):
    client.force_login(owner)

    response = client.post(
        "/account/", {"notification_email": "", "time_zone": "UTC", "display_currency": "eur"}
    )

    assert response.status_code == 302
    assert Profile.objects.get(user=owner).display_currency == "eur"


def test_the_account_page_refuses_a_currency_it_does_not_offer(client, owner):
    client.force_login(owner)

    response = client.post(
        "/account/", {"notification_email": "", "time_zone": "UTC", "display_currency": "chf"}
    )

    assert response.status_code == 400
    assert "chf is not one of the available choices" in response.content.decode()
    assert Profile.objects.get(user=owner).display_currency == "usd"


def test_a_form_posted_without_the_currency_keeps_the_choice(client, owner):
    Profile.objects.create(user=owner, display_currency="gbp")
    client.force_login(owner)

    client.post("/account/", {"notification_email": "", "time_zone": "Asia/Tokyo"})

    assert Profile.objects.get(user=owner).display_currency == "gbp"


def test_the_api_reads_and_changes_the_display_currency(owner_api, owner):
    assert owner_api.get("/api/v1/me/").json()["display_currency"] == "usd"

    response = owner_api.patch("/api/v1/me/", {"display_currency": "btc"}, format="json")

    assert response.status_code == 200 and response.json()["display_currency"] == "btc"
    assert Profile.objects.get(user=owner).display_currency == "btc"


def test_the_api_refuses_a_currency_it_does_not_offer_with_a_clear_400(owner_api, owner):
    response = owner_api.patch("/api/v1/me/", {"display_currency": "EUR"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "display_currency": [
            "'EUR' is not a currency prices are shown in; choose one of "
            "usd, eur, gbp, jpy, btc, eth."
        ]
    }
    assert Profile.for_user(owner).display_currency == "usd"


def test_a_stranger_cannot_change_the_owners_currency(stranger_api, owner):
    Profile.objects.create(user=owner, display_currency="eur")

    stranger_api.patch("/api/v1/me/", {"display_currency": "jpy"}, format="json")

    assert Profile.objects.get(user=owner).display_currency == "eur"


def currency_on_request(user):
    request = RequestFactory().get("/")
    request.user = user
    UserPreferencesMiddleware(lambda request: HttpResponse())(request)
    return request.display_currency


def test_each_request_carries_the_users_display_currency(owner):
    Profile.objects.create(user=owner, display_currency="jpy")

    assert currency_on_request(owner) == "jpy"


def test_a_visitors_request_carries_none(stranger):
    assert currency_on_request(AnonymousUser()) is None
    assert currency_on_request(stranger) is None
