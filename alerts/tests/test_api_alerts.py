"""/api/v1/alerts/: CRUD scoped to the caller, pause/resume, events."""

from datetime import timedelta
from decimal import Decimal

import jsonschema
import pytest
from django.utils import timezone

from alerts.models import Alert, AlertEvent, Status

pytestmark = pytest.mark.django_db

FIELDS = {
    "id",
    "coin",
    "currency",
    "condition",
    "target",
    "threshold",
    "range_low",
    "range_high",
    "percent",
    "window",
    "step_reference",
    "step_low",
    "step_high",
    "frequency",
    "cooldown_seconds",
    "expires_at",
    "note",
    "channels",
    "status",
    "expired_from",
    "description",
    "waiting_for_rate",
    "last_triggered_at",
    "created_at",
}


@pytest.fixture
def alert(make_alert):
    return make_alert(target=Decimal("70000"), note="take profit")


def post(client, **data):
    body = {"coin": "bitcoin", "condition": "above", "target": "70000", **data}
    return client.post("/api/v1/alerts/", body, format="json")


def error_fields(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def test_the_owner_lists_their_alerts_with_the_documented_fields(owner_api, alert):
    body = owner_api.get("/api/v1/alerts/").json()
    assert body["count"] == 1
    item = body["results"][0]
    assert set(item) == FIELDS
    assert (item["coin"], item["target"], item["status"]) == ("bitcoin", "70000", "active")


def test_a_stranger_lists_none_of_the_owners_alerts(stranger_api, alert):
    assert stranger_api.get("/api/v1/alerts/").json()["results"] == []


def test_anonymous_callers_get_a_401(api_client, alert):
    assert api_client.get("/api/v1/alerts/").status_code == 401
    assert api_client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 401
    assert api_client.delete(f"/api/v1/alerts/{alert.pk}/").status_code == 401
    assert Alert.objects.filter(pk=alert.pk).exists()


def test_it_filters_by_status_and_coin(owner_api, alert, make_alert):
    make_alert(target=Decimal("1"), status=Status.PAUSED)
    paused = owner_api.get("/api/v1/alerts/?status=paused&coin=bitcoin").json()["results"]
    assert [item["status"] for item in paused] == ["paused"]
    assert owner_api.get("/api/v1/alerts/?coin=ethereum").json()["results"] == []


def test_it_creates_a_price_alert(owner_api, owner, bitcoin):
    response = post(owner_api, channels=["in_app"], note="moon")
    assert response.status_code == 201, response.content
    alert = Alert.objects.get(pk=response.json()["id"])
    assert (alert.user, alert.coin, alert.target) == (owner, bitcoin, Decimal("70000"))
    assert alert.channels == ["in_app"]
    assert response.json()["description"] == "price is at or above 70000"


def test_it_creates_a_movement_alert(owner_api, bitcoin):
    response = post(
        owner_api,
        condition="pct_down",
        target=None,
        percent="5",
        window="1h",
        frequency="every_time",
        cooldown_seconds=600,
    )
    assert response.status_code == 201, response.content
    assert (response.json()["percent"], response.json()["window"]) == ("5", "1h")


def test_it_ignores_read_only_fields_on_create(owner_api, bitcoin):
    response = post(owner_api, status="triggered", last_triggered_at="2020-01-01T00:00:00Z")
    assert response.json()["status"] == "active"
    assert response.json()["last_triggered_at"] is None


def test_it_rejects_an_unknown_coin(owner_api, bitcoin):
    assert set(error_fields(post(owner_api, coin="no-such-coin"))) == {"coin"}


def test_it_rejects_an_unknown_condition(owner_api, bitcoin):
    assert set(error_fields(post(owner_api, condition="sideways"))) == {"condition"}


def test_it_rejects_a_price_alert_without_target(owner_api, bitcoin):
    assert set(error_fields(post(owner_api, target=None))) == {"target"}


def test_it_rejects_a_negative_target(owner_api, bitcoin):
    assert set(error_fields(post(owner_api, target="-5"))) == {"target"}


def test_it_rejects_a_target_that_is_not_a_number(owner_api, bitcoin):
    assert set(error_fields(post(owner_api, target="lots"))) == {"target"}


def test_it_rejects_a_movement_alert_without_percent_and_window(owner_api, bitcoin):
    fields = error_fields(post(owner_api, condition="pct_up", target=None))
    assert set(fields) == {"percent", "window"}


def test_it_rejects_an_unknown_window(owner_api, bitcoin):
    fields = error_fields(
        post(owner_api, condition="pct_up", target=None, percent="5", window="2d")
    )
    assert set(fields) == {"window"}


def test_it_rejects_an_unknown_channel(owner_api, bitcoin):
    assert set(error_fields(post(owner_api, channels=["pigeon"]))) == {"channels"}


def test_it_rejects_no_channels(owner_api, bitcoin):
    assert set(error_fields(post(owner_api, channels=[]))) == {"channels"}


def test_it_rejects_an_expiry_in_the_past(owner_api, bitcoin):
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    assert set(error_fields(post(owner_api, expires_at=past))) == {"expires_at"}


def test_it_rejects_a_negative_cooldown(owner_api, bitcoin):
    assert set(error_fields(post(owner_api, cooldown_seconds=-1))) == {"cooldown_seconds"}


def test_it_rejects_an_alert_past_the_active_cap(owner_api, bitcoin, settings, make_alert):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    make_alert()
    response = post(owner_api)
    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error["fields"]) == ["non_field_errors"]
    assert "active alerts" in error["message"]


def test_validation_errors_keep_nothing(owner_api, bitcoin):
    post(owner_api, target="-5")
    assert not Alert.objects.exists()


def test_the_owner_reads_one_alert(owner_api, alert):
    assert owner_api.get(f"/api/v1/alerts/{alert.pk}/").json()["note"] == "take profit"


def test_a_stranger_gets_a_404_for_the_owners_alert(stranger_api, alert):
    for method in ("get", "patch", "put", "delete"):
        response = getattr(stranger_api, method)(f"/api/v1/alerts/{alert.pk}/", {}, format="json")
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "not_found"
    assert Alert.objects.get(pk=alert.pk).note == "take profit"


def test_the_owner_changes_the_target(owner_api, alert):
    response = owner_api.patch(f"/api/v1/alerts/{alert.pk}/", {"target": "72000.5"}, format="json")
    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.target == Decimal("72000.5")


def test_a_change_re_arms_the_alert_and_ends_its_cooldown(owner_api, alert):
    Alert.objects.filter(pk=alert.pk).update(armed=False, cooldown_until=timezone.now())

    response = owner_api.patch(f"/api/v1/alerts/{alert.pk}/", {"target": "72000"}, format="json")

    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert (alert.target, alert.armed, alert.cooldown_until) == (Decimal("72000"), True, None)


def test_a_change_is_validated_as_a_whole(owner_api, alert):
    response = owner_api.patch(f"/api/v1/alerts/{alert.pk}/", {"condition": "pct_up"})
    assert set(error_fields(response)) == {"percent", "window", "target"}
    alert.refresh_from_db()
    assert alert.condition == "above"


def test_the_owner_replaces_an_alert(owner_api, alert):
    body = {"coin": "bitcoin", "condition": "below", "target": "20000", "channels": ["email"]}
    response = owner_api.put(f"/api/v1/alerts/{alert.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert (alert.condition, alert.target, alert.channels) == ("below", 20000, ["email"])


def test_the_owner_deletes_an_alert(owner_api, alert):
    assert owner_api.delete(f"/api/v1/alerts/{alert.pk}/").status_code == 204
    assert not Alert.objects.exists()


def test_a_non_numeric_id_is_a_404(owner_api, alert):
    assert owner_api.get("/api/v1/alerts/abc/").status_code == 404


def test_the_owner_pauses_and_resumes_an_alert(owner_api, alert):
    response = owner_api.post(f"/api/v1/alerts/{alert.pk}/pause/")
    assert (response.status_code, response.json()["status"]) == (200, "paused")
    assert owner_api.post(f"/api/v1/alerts/{alert.pk}/pause/").json()["status"] == "paused"
    response = owner_api.post(f"/api/v1/alerts/{alert.pk}/resume/")
    assert (response.status_code, response.json()["status"]) == (200, "active")


def test_an_expired_alert_cannot_be_resumed(owner_api, make_alert):
    alert = make_alert(status=Status.PAUSED, expires_at=timezone.now() - timedelta(minutes=1))
    response = owner_api.post(f"/api/v1/alerts/{alert.pk}/resume/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    alert.refresh_from_db()
    assert alert.status == Status.PAUSED


def test_an_expired_alert_cannot_be_paused(owner_api, make_alert):
    alert = make_alert(status=Status.EXPIRED)
    assert owner_api.post(f"/api/v1/alerts/{alert.pk}/pause/").status_code == 409


def test_a_stranger_cannot_pause_or_resume(stranger_api, alert):
    assert stranger_api.post(f"/api/v1/alerts/{alert.pk}/pause/").status_code == 404
    assert stranger_api.post(f"/api/v1/alerts/{alert.pk}/resume/").status_code == 404
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE


def test_anonymous_callers_cannot_pause(api_client, alert):
    assert api_client.post(f"/api/v1/alerts/{alert.pk}/pause/").status_code == 401


def test_the_owner_lists_the_events_of_an_alert(owner_api, alert, bitcoin):
    AlertEvent.objects.create(
        alert=alert,
        coin=bitcoin,
        price=Decimal("70001.5"),
        reason="above",
        triggered_at=timezone.now(),
    )
    body = owner_api.get(f"/api/v1/alerts/{alert.pk}/events/").json()
    assert body["count"] == 1
    assert (body["results"][0]["price"], body["results"][0]["coin"]) == ("70001.5", "bitcoin")


def test_a_stranger_cannot_list_the_events(stranger_api, alert):
    assert stranger_api.get(f"/api/v1/alerts/{alert.pk}/events/").status_code == 404


def test_anonymous_callers_cannot_list_the_events(api_client, alert):
    assert api_client.get(f"/api/v1/alerts/{alert.pk}/events/").status_code == 401


def test_the_schema_allows_the_blank_expired_from_of_a_live_alert(owner_api, alert):
    # Schemathesis checks every response against this schema.
    schema = owner_api.get("/api/schema/?format=json").json()
    field = schema["components"]["schemas"]["Alert"]["properties"]["expired_from"]

    value = owner_api.get(f"/api/v1/alerts/{alert.pk}/").json()["expired_from"]

    assert value == ""
    jsonschema.validate(value, {**field, "components": schema["components"]})
