"""Suite-wide set-up: fail at once, in one line, when a server the tests need is down."""

import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings

# Shared fixtures: `live_daphne` (a real daphne serving the app on the test db);
# fast_flush empties the tables after a transactional test with DELETE, not TRUNCATE.
pytest_plugins = ["tests_support.live_server", "tests_support.fast_flush"]

START_HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
}


def _unreachable(url: str, default_port: int) -> str | None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        return f"{host}:{port} ({exc.strerror or exc})"
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    db = settings.DATABASES["default"]
    checks = [
        ("PostgreSQL", f"pg://{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}", 5432),
        ("Redis", settings.REDIS_URL, 6379),
    ]
    for name, url, port in checks:
        problem = _unreachable(url, port)
        if problem:
            pytest.exit(
                f"{name} is unreachable at {problem}: start it (e.g. `{START_HINTS[name]}`) "
                f"or point TEST_{'DATABASE' if name == 'PostgreSQL' else 'REDIS'}_URL at one.",
                returncode=3,
            )


def confirmed_user(user_model, username: str, email: str, password: str):
    """A user with a confirmed address (EmailAddress.verified), as alert mail and tokens need."""
    from allauth.account.models import EmailAddress

    user = user_model.objects.create_user(username, email, password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def owner(django_user_model):
    """The user whose objects a test is about."""
    return confirmed_user(django_user_model, "alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def stranger(django_user_model):
    """Another user, who must never see the owner's objects."""
    return confirmed_user(django_user_model, "mallory", "mallory@example.com", "pw-mal-123")


# --- REST API (docs/api.md) --------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=None,
        help="Examples per API operation for the schemathesis run (`make fuzz`).",
    )
    parser.addoption(
        "--fuzz-seconds",
        type=int,
        default=1800,
        help="Time budget of the long schemathesis run (`make fuzz`).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: the long schemathesis run of `make fuzz`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The long fuzz run only happens when asked for with `-m fuzz`.
    if "fuzz" in (config.getoption("-m") or ""):
        budget = pytest.mark.timeout(config.getoption("--fuzz-seconds") + 600)
        for item in items:
            if "fuzz" in item.keywords:
                item.add_marker(budget)
        return
    skip = pytest.mark.skip(reason="long fuzz run: `make fuzz`")
    for item in items:
        if "fuzz" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def api_client():
    """A DRF test client with no credentials."""
    from rest_framework.test import APIClient

    return APIClient()


def token_client(user):
    """A DRF test client sending a new personal API token of `user`."""
    from rest_framework.test import APIClient

    from accounts.models import ApiToken

    _, key = ApiToken.issue(user, "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def owner_api(owner):
    return token_client(owner)


@pytest.fixture
def stranger_api(stranger):
    return token_client(stranger)
