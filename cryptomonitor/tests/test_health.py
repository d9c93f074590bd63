import logging
import socket
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from prices.models import FeedState
from tests_support.live_server import running_daphne

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
    assert body["database"] == {"ok": True}
    assert body["redis"] == {"ok": True}
    assert body["feed"]["source"] == "coingecko"
    assert body["feed"]["stale"] is False
    assert 0 <= body["feed"]["seconds_since_success"] < 5


def test_it_answers_503_when_the_feed_is_stale(admin_client, settings, fresh_feed):
    too_old = settings.PRICE_POLL_SECONDS * settings.PRICE_STALE_AFTER_POLLS + 1
    FeedState.objects.update(
        last_success_at=timezone.now() - timedelta(seconds=too_old),
        consecutive_failures=4,
        last_error="HTTP 429",
    )

    response = admin_client.get("/healthz")

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
    assert response.json()["feed"]["seconds_since_success"] is None


def test_it_answers_503_when_redis_is_down(client, settings, fresh_feed):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["redis"] == {"ok": False}


def test_a_visitor_sees_states_but_no_error_text(client, settings, fresh_feed):
    port = _closed_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    FeedState.objects.update(consecutive_failures=2, last_error="HTTP 500 from api.example")

    text = client.get("/healthz").content.decode()

    for detail in ("127.0.0.1", str(port), "Error", "refused", "api.example", "HTTP 500"):
        assert detail not in text


def test_staff_see_why_a_part_is_down(admin_client, settings, fresh_feed):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    FeedState.objects.update(last_error="HTTP 429")

    body = admin_client.get("/healthz").json()

    assert body["redis"]["ok"] is False
    assert "Connection" in body["redis"]["error"]
    assert body["feed"]["last_error"] == "HTTP 429"


def test_a_failing_part_is_logged_with_its_error(client, settings, fresh_feed, caplog):
    port = _closed_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"

    with caplog.at_level(logging.WARNING, logger="cryptomonitor.health"):
        client.get("/healthz")

    assert any("redis" in r.getMessage() and str(port) in r.getMessage() for r in caplog.records)


@pytest.mark.slow
@pytest.mark.django_db(transaction=False)
def test_a_visitor_learns_nothing_about_an_unreachable_database():
    port = _closed_port()
    database_url = f"postgres://postgres:hunter2@127.0.0.1:{port}/cm_secret_db"

    with running_daphne({"TEST_DATABASE_URL": database_url}) as server:
        response = httpx.get(f"{server.http_url}/healthz", timeout=10)
        log = server.log()

    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["database"] == {"ok": False}
    for detail in ("127.0.0.1", str(port), "cm_secret_db", "hunter2", "Error", "connect"):
        assert detail not in response.text
    # The operator still learns why, from the log.
    assert str(port) in log


def test_it_reports_the_simulated_feed_when_simulating(client, settings):
    settings.PRICE_SOURCE = "simulated"
    FeedState.current().record_success()

    body = client.get("/healthz").json()

    assert (body["feed"]["source"], body["feed"]["simulated"]) == ("simulated", True)


def test_it_refuses_posts(client):
    assert client.post("/healthz").status_code == 405
