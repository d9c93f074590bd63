import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from prices.models import FeedState

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_feed(settings) -> FeedState:
    state = FeedState.current()
    state.record_success()
    return state


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_is_ok_when_everything_works(client, fresh_feed):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "error": None}
    assert body["redis"] == {"ok": True, "error": None}
    assert body["feed"]["source"] == "coingecko"
    assert body["feed"]["stale"] is False
    assert 0 <= body["feed"]["seconds_since_success"] < 5


def test_it_answers_503_when_the_feed_is_stale(client, settings, fresh_feed):
    too_old = settings.PRICE_POLL_SECONDS * settings.PRICE_STALE_AFTER_POLLS + 1
    FeedState.objects.update(
        last_success_at=timezone.now() - timedelta(seconds=too_old),
        consecutive_failures=4,
        last_error="HTTP 429",
    )

    response = client.get("/healthz")

    feed = response.json()["feed"]
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert (feed["stale"], feed["consecutive_failures"], feed["last_error"]) == (
        True,
        4,
        "HTTP 429",
    )


def test_a_feed_that_never_succeeded_is_stale(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["feed"]["last_success_at"] is None


def test_it_answers_503_when_redis_is_down(client, settings, fresh_feed):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False
    assert "Connection" in response.json()["redis"]["error"]


def test_it_reports_the_simulated_feed_when_simulating(client, settings):
    settings.PRICE_SOURCE = "simulated"
    FeedState.current().record_success()

    body = client.get("/healthz").json()

    assert (body["feed"]["source"], body["feed"]["simulated"]) == ("simulated", True)


def test_it_refuses_posts(client):
    assert client.post("/healthz").status_code == 405
