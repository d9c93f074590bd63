"""Log lines for operators: JSON or key=value, a request_id on HTTP lines (docs/logging.md)."""

from __future__ import annotations

import json
import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from common.structured_logs import redact, redact_text
from tests_support.live_server import current_database_url, running_daphne

BASE_DIR = Path(__file__).resolve().parents[2]
SETTINGS = BASE_DIR / "cryptomonitor" / "settings.py"
LOG_A_POLL_LINE = (
    "import logging, structlog\n"
    "with structlog.contextvars.bound_contextvars(poll_id='p-1'):\n"
    "    logging.getLogger('prices.polling').warning('Price feed %s failed', 'coingecko')\n"
)


def logged_by_a_process(**env: str) -> str:
    """What a Django process logs for one poll line, with `env` set."""
    done = subprocess.run(  # noqa: S603 (our interpreter, a fixed script)
        [sys.executable, "manage.py", "shell", "-c", LOG_A_POLL_LINE],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests_support.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr


@pytest.fixture
def load_settings(monkeypatch):
    def load(**variables: str) -> dict:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(SETTINGS))

    return load


def test_json_lines_are_one_object_each_with_time_level_logger_event_and_context():
    (line,) = [json.loads(text) for text in logged_by_a_process(LOG_FORMAT="json").splitlines()]

    assert line["event"] == "Price feed coingecko failed"
    assert line["level"] == "warning"
    assert line["logger"] == "prices.polling"
    assert line["poll_id"] == "p-1"
    assert line["timestamp"].endswith("Z")


def test_console_lines_are_readable_key_value_text():
    (line,) = logged_by_a_process(LOG_FORMAT="console").splitlines()

    assert "[warning  ] Price feed coingecko failed" in line
    assert "[prices.polling]" in line
    assert line.endswith("poll_id=p-1")


def test_console_is_the_default_with_debug_and_json_without(load_settings):
    assert load_settings(DEBUG="True", LOG_FORMAT="")["LOG_FORMAT"] == "console"
    production = load_settings(DEBUG="False", SECRET_KEY=secrets.token_urlsafe(50))
    assert production["LOG_FORMAT"] == "json"


def test_an_unknown_log_format_stops_the_start_and_names_the_choices(load_settings):
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT must be json .* or console"):
        load_settings(DEBUG="True", LOG_FORMAT="xml")


@pytest.mark.django_db(transaction=True)
def test_every_line_of_the_web_server_is_json_and_its_http_lines_carry_the_request_id():
    env = {"TEST_DATABASE_URL": current_database_url(), "LOG_FORMAT": "json"}
    with running_daphne(env, access_log=False) as server:
        response = httpx.get(f"{server.http_url}/api/v1/coins/")
        log = server.log()

    lines = [json.loads(text) for text in log.splitlines() if text.strip()]
    (http,) = [line for line in lines if line["logger"] == "cryptomonitor.http"]
    assert http["request_id"] == response.headers["X-Request-ID"]
    assert http["event"] == "GET /api/v1/coins/ 200"
    assert (http["status"], http["view"], http["level"]) == (200, "api:coin-list", "info")


def test_a_request_id_from_a_trusted_proxy_is_kept(client, settings):
    settings.TRUST_UPSTREAM_REQUEST_ID = True
    given = "0123456789abcdef0123456789abcdef"

    response = client.get("/healthz", headers={"X-Request-ID": given})

    assert response["X-Request-ID"] == given


def test_an_incoming_request_id_is_not_used_without_a_trusted_proxy(client, settings):
    settings.TRUST_UPSTREAM_REQUEST_ID = False
    given = "0123456789abcdef0123456789abcdef"

    response = client.get("/healthz", headers={"X-Request-ID": given})

    assert response["X-Request-ID"] != given


@pytest.mark.parametrize("given", ["<script>alert(1)</script>", "a" * 65, "short"])
def test_a_trusted_proxys_malformed_request_id_is_replaced(client, settings, given):
    settings.TRUST_UPSTREAM_REQUEST_ID = True

    response = client.get("/healthz", headers={"X-Request-ID": given})

    assert response["X-Request-ID"] != given
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("POST to https://hooks.example.com/services/T0/B0/XYZ", "https://hooks.example.com/***"),
        ("https://u:pw@example.com:8443/?token=abc", "https://example.com:8443/***"),
        ("https://example.com/", "https://example.com/"),
        ("tgram://123456:AAbot/chat", "tgram://***"),
        ("json://user:secret@host/path", "json://***"),
        ("Connected to redis://:pw@127.0.0.1:6379/5", "redis://127.0.0.1:6379/5"),
        ("GET /account/notification-email/confirm/eyJ1:1a:sig/", "confirm/***/"),
        ("GET /accounts/password/reset/key/1-abc-def/", "/key/***/"),
        ("GET /accounts/confirm-email/MTA:1t:xyz/", "/confirm-email/***/"),
        ("GET /api/v1/coins/?page=2&api_token=abc", "?page=2&api_token=***"),
    ],
)
def test_redaction_keeps_hosts_and_drops_what_may_be_a_key(text, shown):
    assert shown in redact_text(text)


def test_redaction_removes_the_settings_secrets(settings):
    assert settings.SECRET_KEY not in redact_text(f"signed with {settings.SECRET_KEY}")


def test_redaction_reaches_into_nested_fields_and_objects():
    # Celery's failure line: extra={"data": {"exc": ..., "args": ...}}.
    failure = ConnectionError("POST https://hooks.example.com/services/T0/B0/XYZ failed")
    line = {
        "event": "Task failed",
        "data": {"exc": failure, "args": ["apprise://bot-token@telegram/123"]},
    }

    rendered = json.dumps(redact(None, "error", line))

    assert "XYZ" not in rendered and "bot-token" not in rendered
    assert "hooks.example.com" in rendered
