"""/api/v1/alerts/ in a currency: the field, its default, its errors, events, filter, header."""

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Profile
from alerts.models import Alert
from alerts.tests.currencies import euro_event, set_rate

pytestmark = pytest.mark.django_db


def post(client, **data):
    body = {"coin": "bitcoin", "condition": "above", "target": "70000", **data}
    return client.post("/api/v1/alerts/", body, format="json")


def test_an_alert_created_through_the_api_is_in_the_base_whatever_the_callers_display_currency(
    owner_api, owner, bitcoin
):
    Profile.objects.update_or_create(user=owner, defaults={"display_currency": "eur"})

    response = post(owner_api)

    assert response.status_code == 201, response.content
    assert response.json()["currency"] == "usd"
    assert Alert.objects.get().currency == "usd"


def test_the_api_creates_an_alert_in_the_currency_given(owner_api, bitcoin):
    response = post(owner_api, currency="eur", target="55000")

    assert response.status_code == 201, response.content
    assert response.json()["currency"] == "eur"
    assert response.json()["description"] == "price is at or above 55000 EUR"


def test_an_unknown_currency_is_a_400_with_the_models_message(owner_api, bitcoin):
    response = post(owner_api, currency="xau")

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["currency"] == [
        "'xau' is not a currency prices are shown in; choose one of usd, eur, gbp, jpy, btc, eth."
    ]


def test_events_carry_their_currency_and_exchange_rate(owner_api, make_alert, bitcoin):
    alert = make_alert(target=Decimal("27000"), currency="eur")
    euro_event(alert)

    (event,) = owner_api.get(f"/api/v1/alerts/{alert.pk}/events/").json()["results"]

    assert (event["price"], event["currency"], event["exchange_rate"]) == ("27090", "eur", "0.9")


def test_the_list_filters_by_currency(owner_api, make_alert):
    make_alert()
    in_euros = make_alert(currency="eur")

    results = owner_api.get("/api/v1/alerts/?currency=eur").json()["results"]

    assert [item["id"] for item in results] == [in_euros.pk]


def test_an_active_alert_in_a_currency_with_a_stale_rate_is_marked_waiting_for_it(
    owner_api, make_alert
):
    set_rate("eur", age=timedelta(days=1))
    make_alert(currency="eur")
    make_alert(currency="gbp")  # never fetched
    make_alert()  # the base

    results = owner_api.get("/api/v1/alerts/").json()["results"]

    waiting = {item["currency"]: item["waiting_for_rate"] for item in results}
    assert waiting == {"eur": True, "gbp": True, "usd": False}


def test_an_alert_in_a_currency_with_a_fresh_rate_is_not_waiting(owner_api, make_alert):
    set_rate("eur")
    alert = make_alert(currency="eur")

    assert owner_api.get(f"/api/v1/alerts/{alert.pk}/").json()["waiting_for_rate"] is False


def test_the_schema_documents_the_currency_of_alerts_and_events(owner_api):
    schemas = owner_api.get("/api/schema/?format=json").json()["components"]["schemas"]

    assert "DISPLAY_CURRENCIES" in schemas["AlertRequest"]["properties"]["currency"]["description"]
    assert {"currency", "exchange_rate"} <= set(schemas["AlertEvent"]["properties"])
