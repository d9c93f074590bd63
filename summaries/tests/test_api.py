"""/api/v1/summaries/: the caller's schedules; validation is the model's, strangers get 404."""

from __future__ import annotations

from datetime import time

import pytest

from summaries.models import SummarySchedule
from summaries.tests.conftest import in_zone

pytestmark = pytest.mark.django_db

URL = "/api/v1/summaries/"


@pytest.fixture
def schedule(make_schedule) -> SummarySchedule:
    return make_schedule(channels=["email"])


def test_anonymous_callers_get_401(api_client, schedule):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {"time_of_day": "08:00"}, format="json").status_code == 401
    assert api_client.delete(f"{URL}{schedule.pk}/").status_code == 401


def test_the_owner_lists_their_schedules_with_zone_and_next_time(owner, owner_api, schedule):
    in_zone(owner, "Europe/Paris")

    [item] = owner_api.get(URL).json()["results"]

    assert item["id"] == schedule.pk
    assert (item["time_of_day"], item["days"], item["channels"]) == ("08:00", "daily", ["email"])
    assert item["time_zone"] == "Europe/Paris"
    assert item["next_at"].endswith(("T07:00:00Z", "T06:00:00Z"))  # 08:00 in Paris, in UTC


def test_the_owner_creates_one(owner, owner_api):
    response = owner_api.post(
        URL, {"time_of_day": "07:15", "days": "weekdays", "channels": ["in_app"]}, format="json"
    )

    assert response.status_code == 201, response.json()
    schedule = SummarySchedule.objects.get(user=owner)
    assert (schedule.time_of_day, schedule.days, schedule.channels) == (
        time(7, 15),
        "weekdays",
        ["in_app"],
    )
    assert response.json()["enabled"] is True


def test_the_owner_turns_one_off_and_deletes_it(owner_api, schedule):
    response = owner_api.patch(f"{URL}{schedule.pk}/", {"enabled": False}, format="json")

    assert response.status_code == 200
    assert response.json()["next_at"] is None
    assert owner_api.delete(f"{URL}{schedule.pk}/").status_code == 204
    assert not SummarySchedule.objects.exists()


def test_a_stranger_gets_404_for_the_owners_schedule(stranger_api, schedule):
    url = f"{URL}{schedule.pk}/"

    assert stranger_api.get(url).status_code == 404
    assert stranger_api.patch(url, {"enabled": False}, format="json").status_code == 404
    assert stranger_api.delete(url).status_code == 404
    assert stranger_api.get(URL).json()["results"] == []
    assert SummarySchedule.objects.get().enabled


def test_channels_are_validated_like_the_forms(owner_api):
    errors = [
        owner_api.post(URL, {"time_of_day": "08:00", **body}, format="json").json()["error"]
        for body in ({"channels": []}, {"channels": ["email", "email"]}, {"channels": ["fax"]})
    ]

    assert errors[0]["fields"] == {"channels": ["Choose at least one channel."]}
    assert errors[1]["fields"] == {"channels": ["List each channel only once."]}
    assert '"fax" is not a valid choice.' in str(errors[2]["fields"]["channels"])
    assert not SummarySchedule.objects.exists()


def test_web_push_needs_a_browser_with_push(owner_api):
    response = owner_api.post(
        URL, {"time_of_day": "08:00", "channels": ["web_push"]}, format="json"
    )

    assert response.status_code == 400
    assert "Web Push needs a browser" in response.json()["error"]["fields"]["channels"][0]


def test_a_time_must_be_hours_and_minutes(owner_api):
    response = owner_api.post(URL, {"time_of_day": "8 o'clock"}, format="json")

    assert response.status_code == 400
    assert "time_of_day" in response.json()["error"]["fields"]


def test_past_the_limit_creating_is_refused(owner_api, make_schedule, settings):
    settings.SUMMARIES_MAX_PER_USER = 1
    make_schedule()

    response = owner_api.post(URL, {"time_of_day": "09:00"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "non_field_errors": ["You already have 1 summaries, the most allowed."]
    }


def test_the_schema_documents_the_summaries_endpoints(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]

    assert set(paths[URL]) == {"get", "post"}
    assert set(paths[URL + "{id}/"]) == {"get", "put", "patch", "delete"}
