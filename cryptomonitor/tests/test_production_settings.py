"""Production fails closed: without DEBUG=True the settings want a real key and HTTPS.

The settings module is executed afresh with the environment each test sets
(the suite itself runs with DEBUG=True, from tests_support.settings). `check --deploy`
runs as a process, with compose's production environment.
"""

from __future__ import annotations

import os
import re
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from tests_support.compose import compose_environment

BASE_DIR = Path(__file__).resolve().parents[2]
SETTINGS = BASE_DIR / "cryptomonitor" / "settings.py"
ENV_EXAMPLE_VALUE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)


def env_example() -> dict[str, str]:
    """The values .env.example sets (its uncommented lines)."""
    return dict(ENV_EXAMPLE_VALUE.findall((BASE_DIR / ".env.example").read_text()))


def real_key() -> str:
    return secrets.token_urlsafe(50)


@pytest.fixture
def load_settings(monkeypatch):
    """Execute cryptomonitor/settings.py with DEBUG unset plus the variables given."""
    if (BASE_DIR / ".env").exists():
        pytest.skip("a .env in the project directory would feed the settings")

    def load(**variables: str) -> dict:
        for name in ("DEBUG", "SECRET_KEY", *variables):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(SETTINGS))

    return load


def test_debug_is_off_unless_asked_for(load_settings):
    assert load_settings(SECRET_KEY=real_key())["DEBUG"] is False


@pytest.mark.parametrize(
    "key",
    [
        "",
        "insecure-local-development-key-change-me",
        env_example()["SECRET_KEY"],
        "django-insecure-" + "x7Qp" * 15,
        "too-short-to-sign-anything",
        "ab" * 40,
    ],
    ids=["missing", "old fallback", ".env.example", "insecure prefix", "short", "few characters"],
)
def test_production_refuses_to_start_without_a_real_key(load_settings, key):
    with pytest.raises(ImproperlyConfigured, match=r"SECRET_KEY.*secrets\.token_urlsafe"):
        load_settings(SECRET_KEY=key)


def test_production_refuses_the_development_key(load_settings):
    development_key = load_settings(DEBUG="True")["SECRET_KEY"]

    with pytest.raises(ImproperlyConfigured, match="published"):
        load_settings(SECRET_KEY=development_key)


def test_development_runs_without_a_key(load_settings):
    loaded = load_settings(DEBUG="True")

    assert loaded["DEBUG"] is True
    assert loaded["SECRET_KEY"].startswith("django-insecure-")


def test_a_channel_layer_at_its_old_path_stops_the_start_saying_where_it_went(load_settings):
    old = "cryptomonitor.channel_layers.SharedDecodePubSubChannelLayer"

    with pytest.raises(ImproperlyConfigured, match="moved to common.channel_layers"):
        load_settings(DEBUG="True", CHANNEL_LAYER_BACKEND=old)


def test_production_is_https_only_by_default(load_settings):
    loaded = load_settings(SECRET_KEY=real_key())

    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert loaded["SECURE_HSTS_PRELOAD"] is True
    assert loaded["SESSION_COOKIE_SECURE"] is True
    assert loaded["CSRF_COOKIE_SECURE"] is True


def test_each_https_default_can_be_loosened_for_a_tls_terminating_proxy(load_settings):
    loaded = load_settings(
        SECRET_KEY=real_key(),
        SECURE_SSL_REDIRECT="False",
        SECURE_HSTS_SECONDS="0",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="False",
        SECURE_HSTS_PRELOAD="False",
        SESSION_COOKIE_SECURE="False",
        CSRF_COOKIE_SECURE="False",
    )

    assert (loaded["SECURE_SSL_REDIRECT"], loaded["SECURE_HSTS_SECONDS"]) == (False, 0)
    assert (loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"], loaded["SECURE_HSTS_PRELOAD"]) == (
        False,
        False,
    )
    assert (loaded["SESSION_COOKIE_SECURE"], loaded["CSRF_COOKIE_SECURE"]) == (False, False)


@pytest.mark.django_db
def test_the_container_health_check_is_not_redirected_to_https(load_settings, settings, client):
    production = load_settings(SECRET_KEY=real_key())
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = production["SECURE_REDIRECT_EXEMPT"]

    assert client.get("/").status_code == 301
    # docker/healthcheck.py asks http://127.0.0.1:8000/healthz inside the container.
    assert client.get("/healthz").status_code in (200, 503)


def test_make_targets_run_with_debug_on():
    environment = {name: value for name, value in os.environ.items() if name != "DEBUG"}

    shown = subprocess.run(
        ["make", "-s", "--eval", 'cm-show-debug:\n\t@echo "$$DEBUG"', "cm-show-debug"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert shown.strip() == "True"


def production_environment() -> dict[str, str]:
    """What compose's web container runs with: .env.example, compose's values, a real key."""
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        **env_example(),
        **compose_environment("web"),
        "SECRET_KEY": real_key(),
        "ALLOWED_HOSTS": "prices.example.com",
        # Compose's own names for these (postgres, redis, mailpit) point at
        # loopback here; `check` connects to none of them.
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": django_settings.REDIS_URL,
        "EMAIL_URL": "smtp://127.0.0.1:1025",
    }


@pytest.mark.slow
def test_check_deploy_passes_with_the_compose_production_environment():
    environment = production_environment()
    assert environment["DEBUG"] == "False"

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNING" not in result.stderr
