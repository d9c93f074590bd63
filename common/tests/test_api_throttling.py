"""API throttles (DRF's, in fixed windows) on the real Redis cache: 429 with Retry-After."""

import random
import uuid

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    """Counters of this test only, in the project's Redis cache."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"throttle-test-{uuid.uuid4()}"},
    }


@pytest.fixture
def rates(settings):
    def set_rates(anon: str = "1000/day", user: str = "1000/day") -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": anon, "user": user, "token_obtain": "9/day"},
        }

    return set_rates


def test_each_request_counts_once_against_the_users_rate(owner_api, rates):
    rates(user="3/day")

    statuses = [owner_api.get("/api/v1/alerts/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_a_throttled_answer_says_when_to_retry(owner_api, rates):
    rates(user="2/day")
    for _ in range(2):
        owner_api.get("/api/v1/alerts/")

    refused = owner_api.get("/api/v1/alerts/")

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 86400
    assert refused.json()["error"]["code"] == "throttled"


def test_one_users_calls_do_not_throttle_another(owner_api, stranger_api, rates):
    rates(user="1/day")
    owner_api.get("/api/v1/alerts/")

    assert owner_api.get("/api/v1/alerts/").status_code == 429
    assert stranger_api.get("/api/v1/alerts/").status_code == 200


def test_anonymous_callers_are_throttled_per_address(rates):
    rates(anon="2/day")
    address = f"10.6.{random.randrange(256)}.{random.randrange(255)}"
    client = APIClient()

    codes = [client.get("/api/v1/coins/", REMOTE_ADDR=address).status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    assert client.get("/api/v1/coins/", REMOTE_ADDR=address + "1").status_code == 200


def test_a_changed_rate_applies_to_the_next_request(owner_api, rates):
    rates(user="1/day")
    owner_api.get("/api/v1/alerts/")
    assert owner_api.get("/api/v1/alerts/").status_code == 429

    rates(user="10/day")

    assert owner_api.get("/api/v1/alerts/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_conditional_request_counts_and_is_refused_over_the_limit(owner_api, rates):
    # Transactional: the list's ETag is read outside a transaction.
    rates(user="2/day")
    etag = owner_api.get("/api/v1/alerts/")["ETag"]

    statuses = [
        owner_api.get("/api/v1/alerts/", HTTP_IF_NONE_MATCH=etag).status_code for _ in range(2)
    ]

    assert statuses == [304, 429]
