"""Each request observed once: request id, latency and status metrics, one log line."""

from __future__ import annotations

import logging
import runpy

import pytest
import structlog
from django.contrib.auth import get_user_model
from prometheus_client import REGISTRY

from common.request_observation import UNMATCHED
from tests_support.live_server import BASE_DIR

pytestmark = pytest.mark.django_db


def responses(view: str, method: str, status: str) -> float:
    labels = {"view": view, "method": method, "status": status}
    return REGISTRY.get_sample_value("cryptomonitor_http_responses_total", labels) or 0.0


def http_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "cryptomonitor.http"]


def test_a_response_is_counted_under_its_url_name_method_and_status(client) -> None:
    before = responses("account_login", "GET", "200")

    client.get("/accounts/login/")

    assert responses("account_login", "GET", "200") == before + 1


def test_paths_no_url_matches_share_one_label(client) -> None:
    before = responses(UNMATCHED, "GET", "404")

    client.get("/no-such-page-1")
    client.get("/wp-login.php")

    assert responses(UNMATCHED, "GET", "404") == before + 2


def test_a_method_a_client_made_up_is_counted_as_other(client) -> None:
    before = responses("healthz", "other", "405")

    client.generic("BREW", "/healthz")

    assert responses("healthz", "other", "405") == before + 1


def test_each_request_logs_one_line_with_its_status_view_and_request_id(client, caplog) -> None:
    caplog.set_level(logging.INFO)

    response = client.get("/accounts/login/")

    (line,) = http_lines(caplog)
    assert line.getMessage() == "GET /accounts/login/ 200"
    assert (line.status, line.view, line.levelno) == (200, "account_login", logging.INFO)
    assert len(response["X-Request-ID"]) == 32


def test_a_client_error_is_logged_as_a_warning(client, caplog) -> None:
    caplog.set_level(logging.INFO)

    client.get("/no-such-page")

    (line,) = http_lines(caplog)
    assert line.levelno == logging.WARNING


def test_the_line_names_a_signed_in_user_but_never_looks_one_up(client, caplog) -> None:
    user = get_user_model().objects.create_user("reader", "r@example.com", "a pass phrase")
    caplog.set_level(logging.INFO)

    client.get("/healthz")  # no page reads the user: nor does the log line
    client.force_login(user)
    client.get("/alerts/")

    anonymous, signed_in = http_lines(caplog)
    assert (anonymous.user_id, signed_in.user_id) == (None, user.pk)


def test_nothing_of_a_request_stays_bound_after_it(client) -> None:
    client.get("/healthz")

    assert structlog.contextvars.get_contextvars() == {}


def test_log_http_level_warning_keeps_only_the_failures(client, caplog, monkeypatch) -> None:
    # What LOG_HTTP_LEVEL=WARNING sets (settings.LOGGING, checked below).
    monkeypatch.setattr(logging.getLogger("cryptomonitor.http"), "level", logging.WARNING)
    caplog.set_level(logging.INFO)

    client.get("/accounts/login/")
    client.get("/no-such-page")

    assert [line.status for line in http_lines(caplog)] == [404]


def test_log_http_level_sets_the_request_lines_level(monkeypatch) -> None:
    monkeypatch.setenv("LOG_HTTP_LEVEL", "WARNING")

    loaded = runpy.run_path(str(BASE_DIR / "cryptomonitor" / "settings.py"))

    assert loaded["LOGGING"]["loggers"]["cryptomonitor.http"]["level"] == "WARNING"
