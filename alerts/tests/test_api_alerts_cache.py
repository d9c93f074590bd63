"""GET /api/v1/alerts/ and its ETag: never another user's page, never stale.

Every way an alert changes is read back at once: the API, the web form's
model method, the evaluator's raw SQL firing, the expiry task, deletion.
Transactional tests: production requests run in autocommit, where every write
is a transaction of its own (inside one, the list has no ETag).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import ApiToken, Profile
from alerts.models import Alert
from alerts.tasks import expire_alerts
from alerts.tests.currencies import set_rate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alert(make_alert):
    return make_alert(target=Decimal("70000"), note="take profit")


def listed(client) -> list[dict]:
    response = client.get("/api/v1/alerts/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def one(client) -> dict:
    [item] = listed(client)
    return item


def test_a_repeated_read_costs_auth_and_validator_queries_only(
    owner_api, alert, django_assert_num_queries
):
    first = listed(owner_api)

    with django_assert_num_queries(2):  # the token, the validator
        assert listed(owner_api) == first


def test_a_matching_if_none_match_gets_a_304_after_auth_and_validator_queries_only(
    owner_api, alert, django_assert_num_queries
):
    etag = owner_api.get("/api/v1/alerts/")["ETag"]

    with django_assert_num_queries(2):  # the token, the validator
        repeat = owner_api.get("/api/v1/alerts/", HTTP_IF_NONE_MATCH=etag)

    assert (repeat.status_code, repeat.content, repeat["ETag"]) == (304, b"", etag)


def test_a_strangers_request_with_the_owners_etag_gets_their_own_page(
    owner_api, stranger_api, alert
):
    etag = owner_api.get("/api/v1/alerts/")["ETag"]

    answer = stranger_api.get("/api/v1/alerts/", HTTP_IF_NONE_MATCH=etag)

    assert answer.status_code == 200
    assert answer.json()["results"] == []


def test_a_revoked_token_with_a_matching_etag_is_refused(owner_api, alert):
    etag = owner_api.get("/api/v1/alerts/")["ETag"]
    ApiToken.objects.update(revoked_at=timezone.now())

    assert owner_api.get("/api/v1/alerts/", HTTP_IF_NONE_MATCH=etag).status_code == 401


def test_a_pause_changes_the_etag(owner_api, alert):
    etag = owner_api.get("/api/v1/alerts/")["ETag"]
    owner_api.post(f"/api/v1/alerts/{alert.pk}/pause/")

    answer = owner_api.get("/api/v1/alerts/", HTTP_IF_NONE_MATCH=etag)

    assert answer.status_code == 200
    assert answer.json()["results"][0]["status"] == "paused"


def test_another_user_never_gets_the_owners_cached_page(owner_api, stranger_api, alert):
    assert [item["id"] for item in listed(owner_api)] == [alert.pk]

    assert listed(stranger_api) == []


def test_the_owners_page_is_not_a_strangers_cached_one(owner_api, stranger_api, alert):
    assert listed(stranger_api) == []

    assert [item["id"] for item in listed(owner_api)] == [alert.pk]


def test_an_edit_through_the_api_shows_at_once(owner_api, alert):
    assert one(owner_api)["target"] == "70000"

    response = owner_api.patch(f"/api/v1/alerts/{alert.pk}/", {"target": "72000"}, format="json")
    assert response.status_code == 200, response.content

    assert one(owner_api)["target"] == "72000"


def test_a_new_alert_shows_at_once(owner_api, alert):
    listed(owner_api)
    body = {"coin": "bitcoin", "condition": "below", "target": "20000"}
    assert owner_api.post("/api/v1/alerts/", body, format="json").status_code == 201

    assert len(listed(owner_api)) == 2


def test_a_deleted_alert_disappears_at_once(owner_api, alert, make_alert):
    make_alert(target=Decimal("1"))
    assert len(listed(owner_api)) == 2

    assert owner_api.delete(f"/api/v1/alerts/{alert.pk}/").status_code == 204

    remaining = [item["id"] for item in listed(owner_api)]
    assert len(remaining) == 1
    assert alert.pk not in remaining


def test_a_pause_shows_at_once(owner_api, alert):
    assert one(owner_api)["status"] == "active"

    assert owner_api.post(f"/api/v1/alerts/{alert.pk}/pause/").status_code == 200

    assert one(owner_api)["status"] == "paused"


def test_a_firing_by_the_evaluators_raw_sql_shows_at_once(owner_api, feed, make_alert):
    make_alert(target=Decimal("30000"))
    assert one(owner_api)["status"] == "active"

    assert feed.tick("31000")  # fired: one conditional UPDATE of raw SQL

    fired = one(owner_api)
    assert fired["status"] == "triggered"
    assert fired["last_triggered_at"] is not None


def test_an_expiry_by_the_periodic_task_shows_at_once(owner_api, alert):
    assert one(owner_api)["status"] == "active"
    Alert.objects.filter(pk=alert.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert expire_alerts() == 1

    assert one(owner_api)["status"] == "expired"


def test_an_update_that_sets_no_timestamp_shows_at_once(owner_api, alert):
    listed(owner_api)
    updated_at = Alert.objects.get(pk=alert.pk).updated_at
    # A write that forgets updated_at still changes the row's version.
    Alert.objects.filter(pk=alert.pk).update(note="renamed", updated_at=updated_at)

    assert one(owner_api)["note"] == "renamed"


def test_a_cached_page_answers_in_utc_whatever_the_callers_time_zone(owner, alert, client):
    Profile.objects.update_or_create(user=owner, defaults={"time_zone": "Asia/Tokyo"})
    client.force_login(owner)
    first = one(client)["created_at"]

    Profile.objects.filter(user=owner).update(time_zone="UTC")

    # The API answers in UTC whoever calls (docs/api.md), cached or not.
    assert first.endswith("Z")
    assert one(client)["created_at"] == first


def test_the_etag_changes_when_the_rate_of_an_alerts_currency_goes_stale(
    owner_api, make_alert, settings
):
    set_rate("eur", age=timedelta(seconds=30))
    make_alert(currency="eur")
    etag = owner_api.get("/api/v1/alerts/")["ETag"]
    settings.EXCHANGE_RATE_STALE_SECONDS = 10  # the same row, now too old

    answer = owner_api.get("/api/v1/alerts/", HTTP_IF_NONE_MATCH=etag)

    assert answer.status_code == 200
    assert answer.json()["results"][0]["waiting_for_rate"] is True


def test_the_etag_changes_when_an_alerts_currency_is_no_longer_offered(
    owner_api, make_alert, settings
):
    set_rate("eur")
    make_alert(currency="eur")
    etag = owner_api.get("/api/v1/alerts/")["ETag"]
    settings.DISPLAY_CURRENCIES = ["usd", "gbp"]  # the rate row is as fresh as ever

    answer = owner_api.get("/api/v1/alerts/", HTTP_IF_NONE_MATCH=etag)

    assert answer.status_code == 200
    assert answer.json()["results"][0]["waiting_for_rate"] is True
