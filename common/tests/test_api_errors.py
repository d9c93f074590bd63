"""Every API failure answers {"error": {"code", "message", "fields"}}; throttling."""

import random
import time

import pytest

pytestmark = pytest.mark.django_db


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    return body["error"]


def test_an_unknown_api_url_is_a_json_404(api_client):
    assert error_of(api_client.get("/api/v2/coins/"), 404)["code"] == "not_found"
    assert error_of(api_client.get("/api/v1/nothing-here/"), 404)["code"] == "not_found"


def test_a_wrong_method_is_a_405(owner_api):
    assert error_of(owner_api.put("/api/v1/coins/"), 405)["code"] == "method_not_allowed"


def test_no_credentials_is_a_401_with_a_challenge(api_client):
    response = api_client.get("/api/v1/alerts/")
    assert error_of(response, 401)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_malformed_json_is_a_400(owner_api):
    response = owner_api.post("/api/v1/alerts/", "{nope", content_type="application/json")
    assert error_of(response, 400)["code"] == "parse_error"


def test_an_unsupported_body_type_is_a_415(owner_api):
    response = owner_api.post("/api/v1/alerts/", "coin: bitcoin", content_type="text/yaml")
    assert error_of(response, 415)["code"] == "unsupported_media_type"


def test_validation_errors_list_messages_per_field(owner_api):
    error = error_of(owner_api.post("/api/v1/alerts/", {}, format="json"), 400)
    assert error["code"] == "validation_error"
    assert {"coin", "condition"} <= set(error["fields"])
    assert all(isinstance(message, str) for message in error["fields"]["coin"])


def low_rates(settings, **rates: str) -> None:
    base = {"anon": "1000/min", "user": "1000/min", "token_obtain": "1000/min"}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**base, **rates},
    }


def test_anonymous_callers_are_throttled_per_ip(api_client, settings):
    # Addresses of this test only: throttling counts per IP in the shared cache.
    low_rates(settings, anon="2/min")
    ip = f"10.9.{random.randrange(256)}.{random.randrange(256)}"
    for _ in range(2):
        assert api_client.get("/api/v1/coins/", REMOTE_ADDR=ip).status_code == 200
    response = api_client.get("/api/v1/coins/", REMOTE_ADDR=ip)
    assert error_of(response, 429)["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert api_client.get("/api/v1/coins/", REMOTE_ADDR=f"{ip}1").status_code == 200


def test_users_are_throttled_per_user(owner_api, stranger_api, settings):
    low_rates(settings, user="2/min")
    assert owner_api.get("/api/v1/alerts/").status_code == 200
    assert owner_api.get("/api/v1/me/").status_code == 200
    response = owner_api.get("/api/v1/alerts/")
    assert error_of(response, 429)["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert stranger_api.get("/api/v1/alerts/").status_code == 200


def test_anonymous_callers_also_count_against_the_user_rate(api_client, settings):
    # Visitors are "users" keyed by IP too: a user rate below the anon rate binds them.
    low_rates(settings, anon="5/min", user="2/min")
    ip = f"10.7.{random.randrange(256)}.{random.randrange(256)}"
    for _ in range(2):
        assert api_client.get("/api/v1/coins/", REMOTE_ADDR=ip).status_code == 200
    assert error_of(api_client.get("/api/v1/coins/", REMOTE_ADDR=ip), 429)["code"] == "throttled"


def test_a_throttle_window_ends(api_client, settings):
    low_rates(settings, anon="1/s")
    ip = f"10.8.{random.randrange(256)}.{random.randrange(256)}"
    # Stop at the first refusal: a request after it could spend the next
    # window's allowance (when a window boundary falls between requests).
    for _ in range(3):
        response = api_client.get("/api/v1/coins/", REMOTE_ADDR=ip)
        if response.status_code == 429:
            break
    assert response.status_code == 429
    time.sleep(int(response["Retry-After"]))
    assert api_client.get("/api/v1/coins/", REMOTE_ADDR=ip).status_code == 200


def test_null_characters_in_a_url_are_a_400(api_client):
    assert error_of(api_client.get("/api/v1/coins/?search=a%00b"), 400)["fields"]
    assert error_of(api_client.get("/api/v1/coins/a%00b/"), 400)["code"] == "validation_error"


def test_null_characters_in_a_coin_id_are_a_400(owner_api):
    response = owner_api.post("/api/v1/watchlist/", {"coin": "bit\x00coin"}, format="json")
    assert list(error_of(response, 400)["fields"]) == ["coin"]
