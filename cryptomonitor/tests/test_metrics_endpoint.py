"""GET /metrics: who may read it, what it serves, and series from other processes."""

from __future__ import annotations

import math
import os
import runpy
import subprocess
import sys
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from notifications.tests.conftest import free_port, wait_for
from prices.models import FeedState
from prices.tests.metric_values import metric_value
from tests_support.celery_worker import start_celery_worker
from tests_support.live_server import BASE_DIR

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-metrics-token"  # noqa: S105 (a test value)


@pytest.fixture
def token(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.fixture
def no_token(settings) -> None:
    settings.METRICS_TOKEN = ""


def test_without_a_token_a_local_caller_reads_the_metrics(client, no_token):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "cryptomonitor_poll_interval_seconds" in response.content.decode()


def test_without_a_token_an_ipv6_loopback_caller_reads_the_metrics(client, no_token):
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_without_a_token_a_remote_caller_is_told_to_set_one(client, no_token):
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 403
    assert "METRICS_TOKEN" in response.content.decode()


def test_without_a_token_a_request_through_a_proxy_is_refused_though_it_looks_local(
    client, no_token
):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert response.status_code == 403


@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED"])
def test_without_a_token_any_proxy_header_makes_a_local_caller_remote(client, no_token, header):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: "203.0.113.9"})

    assert response.status_code == 403


def test_without_a_token_nothing_is_local_when_a_proxy_stands_in_front(client, no_token, settings):
    # A proxy on this host that sets no forwarding header at all (a TCP proxy).
    settings.TRUSTED_PROXY_COUNT = 1

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_with_a_token_a_request_without_it_is_challenged(client, token):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_with_a_token_a_wrong_one_is_refused(client, token):
    response = client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer not-the-token"
    )

    assert response.status_code == 403


def test_with_a_token_the_right_one_reads_the_metrics_from_anywhere(client, token):
    response = client.get(
        "/metrics",
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
    )

    assert response.status_code == 200


def test_the_metrics_are_never_cached(client, no_token):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert "no-store" in response["Cache-Control"]


def test_the_feed_gauges_are_read_from_the_feed_state_when_served(client, no_token):
    now = timezone.now()
    FeedState.objects.create(
        name=django_settings.PRICE_SOURCE,
        last_success_at=now - timedelta(seconds=300),
        consecutive_failures=3,
        backoff_until=now + timedelta(seconds=120),
    )

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert 299 <= metric_value("cryptomonitor_feed_age_seconds", text=text) <= 400
    assert 60 <= metric_value("cryptomonitor_feed_backoff_seconds", text=text) <= 120
    assert metric_value("cryptomonitor_feed_consecutive_failures", text=text) == 3
    assert metric_value(
        "cryptomonitor_feed_last_success_timestamp_seconds", text=text
    ) == pytest.approx((now - timedelta(seconds=300)).timestamp())
    assert metric_value("cryptomonitor_poll_interval_seconds", text=text) == (
        django_settings.PRICE_POLL_SECONDS
    )


def test_a_feed_that_never_worked_is_infinitely_old(client, no_token):
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert math.isinf(metric_value("cryptomonitor_feed_age_seconds", text=text))
    assert "cryptomonitor_feed_last_success_timestamp_seconds" not in text


def test_requests_are_counted_by_url_name_method_and_status(client, no_token):
    client.get("/accounts/login/")

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert metric_value(
        "cryptomonitor_http_responses_total",
        {"view": "account_login", "method": "GET", "status": "200"},
        text=text,
    )
    assert metric_value(
        "cryptomonitor_http_request_duration_seconds_count",
        {"view": "account_login", "method": "GET"},
        text=text,
    )


def test_prometheus_scraping_a_container_by_address_is_answered_in_production(client, settings):
    # In Docker, Prometheus asks http://<container address>:8000/metrics: a
    # Host outside ALLOWED_HOSTS, over plain HTTP on the internal network.
    settings.METRICS_TOKEN = "a-token-for-prometheus"
    settings.ALLOWED_HOSTS = ["example.com"]
    settings.SECURE_SSL_REDIRECT = True

    response = client.get(
        "/metrics",
        HTTP_HOST="172.18.0.5:8000",
        REMOTE_ADDR="172.18.0.9",
        headers={"Authorization": "Bearer a-token-for-prometheus"},
    )

    assert response.status_code == 200
    assert b"cryptomonitor_poll_interval_seconds" in response.content


def test_scrapes_are_neither_logged_nor_counted_as_requests(client, no_token, caplog):
    client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert 'view="metrics"' not in text
    assert not [r for r in caplog.records if r.name == "cryptomonitor.http"]


# --- Multiprocess mode ---------------------------------------------------------------------

# Another process of the host: counts a poll, opens a socket, exits normally.
OTHER_PROCESS = """
import django
django.setup()
from prices import metrics
metrics.record_poll("ok", 0.25, 7)
metrics.WEBSOCKET_CONNECTIONS.inc()
"""


def run_other_process(directory: str) -> None:
    subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", OTHER_PROCESS],
        cwd=django_settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests_support.settings",
            "PROMETHEUS_MULTIPROC_DIR": directory,
        },
        check=True,
        timeout=60,
    )


def test_series_written_by_another_process_are_served(client, no_token, tmp_path, settings):
    run_other_process(str(tmp_path))
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert metric_value("cryptomonitor_polls_total", {"outcome": "ok"}, text=text) == 1
    assert metric_value("cryptomonitor_poll_coins_stored", text=text) == 7
    assert metric_value("cryptomonitor_poll_duration_seconds_count", text=text) == 1
    # The scrape-time gauges come with them.
    assert "cryptomonitor_outbox_backlog" in text


def test_a_process_that_exited_no_longer_counts_in_the_live_gauges(
    client, no_token, tmp_path, settings
):
    run_other_process(str(tmp_path))
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert metric_value("cryptomonitor_websocket_connections", text=text) == 0


@pytest.mark.slow
def test_a_celery_worker_serves_its_directory_on_metrics_port(tmp_path):
    port = free_port()
    worker = start_celery_worker(
        f"cm-metrics-test-{uuid.uuid4().hex[:12]}",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        METRICS_PORT=str(port),
    )
    try:

        def scrape() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:  # noqa: S310
                    return r.read().decode()
            except OSError:
                return ""

        text = wait_for(scrape, timeout=60, what="the worker's exporter")
    finally:
        worker.kill()
        worker.wait(timeout=10)

    assert "cryptomonitor_poll_duration_seconds_count" in text


def test_a_metrics_directory_named_only_in_dot_env_stops_the_start(tmp_path, monkeypatch):
    # prometheus_client reads the variable when first imported, before the
    # settings read .env: from there it would silently not apply.
    (tmp_path / "cryptomonitor").mkdir()
    settings_copy = tmp_path / "cryptomonitor" / "settings.py"
    settings_copy.write_text((BASE_DIR / "cryptomonitor" / "settings.py").read_text())
    (tmp_path / ".env").write_text(f"PROMETHEUS_MULTIPROC_DIR={tmp_path}\n")
    # Set then removed: monkeypatch puts back its absence after the test,
    # whatever .env wrote into os.environ.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    monkeypatch.setenv("DEBUG", "True")

    with pytest.raises(ImproperlyConfigured, match="not in .env"):
        runpy.run_path(str(settings_copy))
