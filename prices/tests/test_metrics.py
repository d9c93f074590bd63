"""The feed's and the live sockets' metrics, moved by real polls and sockets."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from django.core.cache import cache
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from prices.polling import LOCK_KEY, poll_once
from prices.tests.metric_values import metric_value
from prices.tests.pipeline import alert_batches  # noqa: F401 (fixture)
from prices.tests.test_live_server import connect, next_message
from tests_support.live_server import current_database_url, running_daphne

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("alert_batches")]


@pytest.fixture(autouse=True)
def _one_attempt_per_poll(settings):
    settings.COINGECKO_MAX_RETRIES = 0
    cache.delete(LOCK_KEY)


def polls(outcome: str) -> float:
    return metric_value("cryptomonitor_polls_total", {"outcome": outcome})


def requests_answered(status: str) -> float:
    return metric_value("cryptomonitor_coingecko_requests_total", {"status": status})


def test_a_good_poll_counts_as_ok_with_its_ticks_and_request(fake_coingecko):
    before = (
        polls("ok"),
        requests_answered("200"),
        metric_value("cryptomonitor_ticks_stored_total"),
        metric_value("cryptomonitor_poll_duration_seconds_count"),
    )

    report = poll_once()

    assert report.ok
    assert polls("ok") == before[0] + 1
    assert requests_answered("200") == before[1] + 1
    assert metric_value("cryptomonitor_ticks_stored_total") == before[2] + report.ingest.stored
    assert metric_value("cryptomonitor_poll_coins_stored") == report.ingest.stored > 0
    assert metric_value("cryptomonitor_poll_duration_seconds_count") == before[3] + 1


def test_a_poll_that_gets_429_counts_as_rate_limited(fake_coingecko):
    before = polls("rate_limited"), requests_answered("429")
    fake_coingecko.inject("rate_limit", retry_after=30)

    report = poll_once()

    assert report.error
    assert polls("rate_limited") == before[0] + 1
    assert requests_answered("429") == before[1] + 1
    assert metric_value("cryptomonitor_poll_coins_stored") == 0


def test_a_poll_that_gets_a_server_error_counts_as_an_error(fake_coingecko):
    before = polls("error"), requests_answered("500")
    fake_coingecko.inject("500")

    poll_once()

    assert polls("error") == before[0] + 1
    assert requests_answered("500") == before[1] + 1


def test_a_poll_that_cannot_connect_counts_its_request_as_a_connection_error(
    fake_coingecko, settings
):
    before = polls("error"), requests_answered("connection_error")
    settings.COINGECKO_BASE_URL = "http://127.0.0.1:9/api/v3"  # discard: nobody listens

    poll_once()

    assert polls("error") == before[0] + 1
    assert requests_answered("connection_error") == before[1] + 1


def test_a_poll_during_the_backoff_counts_as_skipped(fake_coingecko):
    fake_coingecko.inject("rate_limit", retry_after=30)
    poll_once()
    before = metric_value("cryptomonitor_polls_skipped_total", {"reason": "backoff"})

    report = poll_once()

    assert report.skipped
    assert metric_value("cryptomonitor_polls_skipped_total", {"reason": "backoff"}) == before + 1


def test_a_committed_batch_times_its_broadcast(fake_coingecko, django_capture_on_commit_callbacks):
    before = metric_value("cryptomonitor_broadcast_latency_seconds_count")

    with django_capture_on_commit_callbacks(execute=True):
        poll_once()

    assert metric_value("cryptomonitor_broadcast_latency_seconds_count") == before + 1


# --- A real daphne, its series read from its multiprocess directory ---------------------------


def daphne_metrics(directory: str) -> str:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry).decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_open_sockets_are_counted_up_on_connect_and_down_on_close(tmp_path):
    directory = str(tmp_path)
    env = {"TEST_DATABASE_URL": current_database_url(), "PROMETHEUS_MULTIPROC_DIR": directory}

    async def scenario(server) -> tuple[float, float, float, float]:
        async with connect(server) as first, connect(server) as second:
            await next_message(first, "snapshot")
            await next_message(second, "snapshot")
            await first.send(json.dumps({"type": "nonsense"}))
            await next_message(first, "error")
            both = metric_value(
                "cryptomonitor_websocket_connections", text=daphne_metrics(directory)
            )
        for _ in range(100):  # the server hears the close a moment later
            after = daphne_metrics(directory)
            if metric_value("cryptomonitor_websocket_connections", text=after) == 0:
                break
            await asyncio.sleep(0.05)
        return (
            both,
            metric_value("cryptomonitor_websocket_connections", text=after),
            metric_value(
                "cryptomonitor_websocket_messages_sent_total", {"type": "snapshot"}, text=after
            ),
            metric_value(
                "cryptomonitor_websocket_messages_sent_total", {"type": "error"}, text=after
            ),
        )

    with running_daphne(env) as server:
        both, after, snapshots, errors = asyncio.run(scenario(server))

    assert (both, after, snapshots, errors) == (2, 0, 2, 1)
    assert os.listdir(directory)
