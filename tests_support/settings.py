"""Test settings: the real settings pointed at TEST_DATABASE_URL and TEST_REDIS_URL.

Tests talk to real PostgreSQL and Redis (see `make test`); only what makes the
suite fast and hermetic is changed here.
"""

import os

os.environ.setdefault("DEBUG", "True")
os.environ["DATABASE_URL"] = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cryptomonitor"
)
# A Redis db number of its own so tests never touch a running instance's data.
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("EMAIL_URL", "consolemail://")
# Tests listen on the layer from several event loops (one per async_to_sync
# call); only RedisChannelLayer keeps channels and groups across loops. The
# production pub/sub layer is tested explicitly (prices/tests/test_consumers.py).
os.environ.setdefault("CHANNEL_LAYER_BACKEND", "channels_redis.core.RedisChannelLayer")

from cryptomonitor.settings import *  # noqa: E402,F403
from cryptomonitor.settings import CACHES, CHANNEL_LAYERS  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES["default"]["KEY_PREFIX"] = f"cm-test-{os.getpid()}"
# Redis pub/sub channels are shared by every db number, so another instance's
# broadcasts (a benchmark, `make run`) reached the tests' sockets. A prefix of
# this run's own, inherited by the daphne and Celery processes it starts.
os.environ.setdefault("TEST_CHANNEL_PREFIX", f"cm-test-{os.getpid()}:channels")
# Under pytest-xdist (`make test` runs two workers) the controller set the
# prefix before starting the workers, which inherit it: each worker and the
# processes it starts add the worker's name, so one worker's broadcasts never
# reach the other's sockets.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _xdist_worker and not os.environ["TEST_CHANNEL_PREFIX"].endswith(f":{_xdist_worker}"):
    os.environ["TEST_CHANNEL_PREFIX"] += f":{_xdist_worker}"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ["TEST_CHANNEL_PREFIX"]
# Tests drive sleeps of the HTTP client themselves; keep backoff short.
COINGECKO_TIMEOUT_SECONDS = 1.0
COINGECKO_BACKOFF_CAP_SECONDS = 2.0
# Every API test calls from 127.0.0.1: generous limits keep a full run from
# tripping the anonymous per-IP rate; throttling tests set low ones themselves.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {
        "anon": "100000/min",
        "user": "100000/min",
        "token_obtain": "1000/min",
    },
}
