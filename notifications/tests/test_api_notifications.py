"""/api/v1/notifications/ (the inbox) and /api/v1/deliveries/."""

from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from notifications.models import Delivery, InAppNotification
from prices.models import Coin

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(owner):
    coin = Coin.objects.create(coingecko_id="bitcoin", symbol="btc", name="Bitcoin")
    alert = Alert.objects.create(user=owner, coin=coin, condition="above", target=Decimal(1))
    return AlertEvent.objects.create(
        alert=alert, coin=coin, price=Decimal(2), reason="above 1", triggered_at=timezone.now()
    )


@pytest.fixture
def inbox(owner, event):
    return [
        InAppNotification.objects.create(user=owner, event=event, title=f"BTC {n}")
        for n in range(3)
    ]


@pytest.fixture
def deliveries(owner, event):
    return [
        Delivery.objects.create(user=owner, event=event, channel="email", status="sent"),
        Delivery.objects.create(user=owner, event=event, channel="in_app", status="failed"),
    ]


def titles(response) -> list[str]:
    return [item["title"] for item in response.json()["results"]]


def test_the_owner_lists_their_inbox_newest_first(owner_api, inbox):
    assert titles(owner_api.get("/api/v1/notifications/")) == ["BTC 2", "BTC 1", "BTC 0"]


def test_a_stranger_sees_an_empty_inbox(stranger_api, inbox):
    assert stranger_api.get("/api/v1/notifications/").json()["results"] == []


def test_anonymous_callers_cannot_read_an_inbox(api_client, inbox):
    assert api_client.get("/api/v1/notifications/").status_code == 401
    assert api_client.post("/api/v1/notifications/read-all/").status_code == 401


def test_the_owner_marks_one_read(owner_api, inbox):
    response = owner_api.post(f"/api/v1/notifications/{inbox[0].pk}/read/")
    assert response.status_code == 200
    assert response.json()["read_at"] is not None
    assert titles(owner_api.get("/api/v1/notifications/?unread=true")) == ["BTC 2", "BTC 1"]


def test_marking_read_twice_keeps_the_first_time(owner_api, inbox):
    first = owner_api.post(f"/api/v1/notifications/{inbox[0].pk}/read/").json()["read_at"]
    assert owner_api.post(f"/api/v1/notifications/{inbox[0].pk}/read/").json()["read_at"] == first


def test_a_stranger_cannot_mark_the_owners_notification(stranger_api, inbox):
    assert stranger_api.post(f"/api/v1/notifications/{inbox[0].pk}/read/").status_code == 404
    inbox[0].refresh_from_db()
    assert inbox[0].read_at is None


def test_the_owner_marks_all_read(owner_api, inbox, stranger):
    theirs = InAppNotification.objects.create(user=stranger, title="not yours")
    response = owner_api.post("/api/v1/notifications/read-all/")
    assert response.json() == {"marked": 3}
    assert owner_api.get("/api/v1/notifications/?unread=true").json()["count"] == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_owner_lists_deliveries_filtered_by_status(owner_api, deliveries, event):
    body = owner_api.get("/api/v1/deliveries/?status=failed").json()
    assert [(item["channel"], item["alert"]) for item in body["results"]] == [
        ("in_app", event.alert_id)
    ]
    assert owner_api.get("/api/v1/deliveries/").json()["count"] == 2


def test_it_rejects_an_unknown_delivery_status(owner_api, deliveries):
    response = owner_api.get("/api/v1/deliveries/?status=lost")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["status"]


def test_a_stranger_cannot_see_the_owners_deliveries(stranger_api, deliveries):
    assert stranger_api.get("/api/v1/deliveries/").json()["results"] == []
    assert stranger_api.get(f"/api/v1/deliveries/{deliveries[0].pk}/").status_code == 404


def test_anonymous_callers_cannot_see_deliveries(api_client, deliveries):
    assert api_client.get("/api/v1/deliveries/").status_code == 401


def test_deliveries_are_read_only(owner_api, deliveries):
    response = owner_api.delete(f"/api/v1/deliveries/{deliveries[0].pk}/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
