"""CryptoMonitor settings: every value a user sets comes from the environment here.

Defaults suit local use (the PostgreSQL `make run` starts under var/, the
console mail backend) but DEBUG is off unless set: without DEBUG=True (which
`make run` and the tests set) a real SECRET_KEY is mandatory and HTTPS-only
defaults apply.
The full list, with defaults, is in README.md ("Configuration").
"""

import socket
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

from common import structured_logs

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A .env file is read when present (docker-compose and local use); the real
# environment always wins over it.
# (Only when present: its "not found" line would come before logging is set up.)
if (BASE_DIR / ".env").exists():
    _metrics_dir_in_environment = "PROMETHEUS_MULTIPROC_DIR" in env.ENVIRON
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
    if "PROMETHEUS_MULTIPROC_DIR" in env.ENVIRON and not _metrics_dir_in_environment:
        # prometheus_client reads it when first imported, before this file:
        # from .env it would reach our code but not the library, and each
        # Celery process would keep its metrics to itself, unseen.
        raise ImproperlyConfigured(
            "PROMETHEUS_MULTIPROC_DIR must be set in the processes' environment, "
            "not in .env (docker-compose.yml sets it for each container)"
        )

# Off unless asked for: whatever starts without DEBUG=True is production and
# fails closed (`make run` and the tests set DEBUG=True themselves).
DEBUG = env.bool("DEBUG", default=False)
# Keys this repository ships or once shipped: they sign nothing in production.
PUBLISHED_SECRET_KEYS = frozenset(
    {
        "insecure-local-development-key-change-me",  # the old DEBUG fallback
        "change-me-to-a-long-random-string",  # .env.example
    }
)
DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-only-never-use-in-production"  # noqa: S105


def secret_key_problem(key: str) -> str | None:
    """Why `key` must not sign sessions in production; None for a real key.

    The bar is Django's own (`check --deploy`, security.W009).
    """
    if not key:
        return "SECRET_KEY is not set"
    if key in PUBLISHED_SECRET_KEYS or key == DEVELOPMENT_SECRET_KEY:
        return "SECRET_KEY is a value published with CryptoMonitor"
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"SECRET_KEY starts with {SECRET_KEY_INSECURE_PREFIX!r}"
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (
            f"SECRET_KEY is weak: fewer than {SECRET_KEY_MIN_LENGTH} characters or "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} different ones"
        )
    return None


SECRET_KEY = env.str("SECRET_KEY", default="")
if DEBUG:
    SECRET_KEY = SECRET_KEY or DEVELOPMENT_SECRET_KEY
elif problem := secret_key_problem(SECRET_KEY):
    # A published or guessable key lets anyone forge sessions and reset links.
    raise ImproperlyConfigured(
        f"{problem}. With DEBUG=False (the default) CryptoMonitor needs a long random "
        "SECRET_KEY; generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))' "
        "(DEBUG=True, for development only, uses a built-in key)."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_structlog",
    "allauth",
    "allauth.account",
    "cryptomonitor",
    "accounts",
    "prices",
    "alerts",
    "notifications",
    "summaries",
]

MIDDLEWARE = [
    # /metrics answers Prometheus before the Host check and the HTTPS redirect:
    # in Docker it is scraped by container address over the internal network;
    # its own token or loopback rule decides who reads it (cryptomonitor/metrics.py).
    "cryptomonitor.metrics.MetricsEndpointMiddleware",
    # Every other request: its request_id on every line logged meanwhile, its
    # latency and status in the metrics, one log line (common/request_observation.py).
    "common.request_observation.RequestObservationMiddleware",
    # Before anything reads a cookie (the session): common/null_characters.py.
    "common.null_characters.IgnoreNullCharacterCookiesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After auth and messages: its 400 page is a normal page of the site.
    "common.null_characters.RefuseNullCharactersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.UserPreferencesMiddleware",
]

ROOT_URLCONF = "cryptomonitor.urls"
ASGI_APPLICATION = "cryptomonitor.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.unread_notifications",
                "prices.context_processors.currency_display",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# PostgreSQL only. No DATABASE_URL: the private server `make run` starts in
# var/postgres (scripts/local_stack.py), on its Unix socket there, so
# manage.py in a second terminal finds it. Production names its server
# (compose does); without one, every query fails on the missing socket.
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL",
        default=f"postgres://postgres@/cryptomonitor?host={quote(str(VAR_DIR / 'postgres'))}",
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DATABASE_URL must name a PostgreSQL database (postgres://user:password@host:port/name); "
        "other databases are not supported. Unset it and `make run` starts its own."
    )
# 0 by default: under daphne each request may run in its own thread, and a
# persistent connection per thread exhausts PostgreSQL's max_connections.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# How long a connection may sit on a dead link (a cut network, a host gone
# without closing its sockets) before the query on it fails. libpq has no
# deadline of its own there: a query waits for TCP to give up, about 15
# minutes, so a partitioned worker's threads were stuck for the whole cut
# (docs/operations.md "Failure scenarios", scenario 4). libpq's own options,
# through psycopg (ignored on a Unix socket, where a link cannot be cut):
# - tcp_user_timeout: data the client sent (a query, a COMMIT) unacknowledged
#   by the server's kernel for this long closes the connection;
# - keepalives: a client waiting for a reply probes the silent link after a
#   third of the bound and gives up once the probes go unanswered;
# - connect_timeout: a connection attempt, the same bound.
# A long legitimate query is not cut: the server's kernel acknowledges the
# query at once and answers the probes while the backend works for minutes,
# so only a server unreachable (or not reading at all, its receive window
# full) for the whole bound counts as dead. A slow query needs
# statement_timeout, not this. Options given in DATABASE_URL's query win.
DATABASE_DEAD_LINK_SECONDS = env.int("DATABASE_DEAD_LINK_SECONDS", default=30)
if DATABASE_DEAD_LINK_SECONDS < 2:
    # libpq's minimum connect_timeout; 0 would mean "no bound", which is the bug.
    raise ImproperlyConfigured(
        f"DATABASE_DEAD_LINK_SECONDS must be 2 or more, not {DATABASE_DEAD_LINK_SECONDS}"
    )
_keepalives_idle = max(1, DATABASE_DEAD_LINK_SECONDS // 3)
for _option, _value in {
    "connect_timeout": DATABASE_DEAD_LINK_SECONDS,
    "tcp_user_timeout": DATABASE_DEAD_LINK_SECONDS * 1000,  # milliseconds
    "keepalives": 1,
    "keepalives_idle": _keepalives_idle,
    "keepalives_interval": max(1, (DATABASE_DEAD_LINK_SECONDS - _keepalives_idle) // 4),
    "keepalives_count": 4,
}.items():
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(_option, _value)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, channel layer, cache --------------------------------
# `make run` starts a private Redis and sets REDIS_URL itself when it is unset.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Every Redis client's bound on a dead link, as DATABASE_DEAD_LINK_SECONDS
# above: TCP keepalive probes after a third of it, and TCP_USER_TIMEOUT (data
# sent and unacknowledged, a probe included, for this long closes the
# socket), so an idle connection (the broker's BRPOP, the channel layer's
# subscription) learns of a cut and reconnects instead of waiting for TCP's
# 15 minutes. A command answers in milliseconds: REDIS_COMMAND_TIMEOUT_SECONDS
# bounds each read of a reply (cache, broker) and a connect. Blocking reads
# wait longer: the channel layer's socket timeout is the whole bound, which
# must exceed its longest blocking read (BZPOPMIN, 5 s, below).
REDIS_DEAD_LINK_SECONDS = env.int("REDIS_DEAD_LINK_SECONDS", default=30)
REDIS_COMMAND_TIMEOUT_SECONDS = 5
if REDIS_DEAD_LINK_SECONDS < 10:
    raise ImproperlyConfigured(
        "REDIS_DEAD_LINK_SECONDS must be 10 or more (longer than the channel layer's "
        f"5 s blocking read, with a margin), not {REDIS_DEAD_LINK_SECONDS}"
    )
_redis_idle = REDIS_DEAD_LINK_SECONDS // 3
# redis-py sets each pair with setsockopt(IPPROTO_TCP, ...); a platform
# without one of them (macOS has no TCP_USER_TIMEOUT) goes without it.
_redis_tcp_options = {
    getattr(socket, name): value
    for name, value in (
        ("TCP_KEEPIDLE", _redis_idle),
        ("TCP_KEEPINTVL", max(1, (REDIS_DEAD_LINK_SECONDS - _redis_idle) // 4)),
        ("TCP_KEEPCNT", 4),
        ("TCP_USER_TIMEOUT", REDIS_DEAD_LINK_SECONDS * 1000),
    )
    if hasattr(socket, name)
}
# A Unix socket (unix://) has no link to cut, and redis-py's Unix socket
# connection takes no keepalive arguments.
REDIS_CONNECTION_OPTIONS = {
    "socket_timeout": REDIS_COMMAND_TIMEOUT_SECONDS,
    "socket_connect_timeout": REDIS_COMMAND_TIMEOUT_SECONDS,
}
if urlsplit(REDIS_URL).scheme in ("redis", "rediss"):
    REDIS_CONNECTION_OPTIONS |= {
        "socket_keepalive": True,
        "socket_keepalive_options": _redis_tcp_options,
    }

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cm",
        # redis-py's pool arguments: Django passes OPTIONS through.
        "OPTIONS": dict(REDIS_CONNECTION_OPTIONS),
    },
    # Rendered coin and alert list pages, per process, under their ETag: a
    # digest of the rows read on every request (common/api_cache.py).
    "api": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "api-pages",
        "TIMEOUT": 300,
    },
}

# Redis pub/sub, decoding each broadcast once per process: chosen by
# measurement (bench/fanout.py; why in docs/decisions.md).
CHANNEL_LAYER_BACKEND = env.str(
    "CHANNEL_LAYER_BACKEND", default="common.channel_layers.SharedDecodePubSubChannelLayer"
)
if CHANNEL_LAYER_BACKEND.startswith("cryptomonitor.channel_layers."):
    # An .env written for an older release: say where the layer went, at start.
    raise environ.ImproperlyConfigured(
        "CHANNEL_LAYER_BACKEND: cryptomonitor.channel_layers moved to common.channel_layers"
    )
# redis-py 8 gives every connection a 5 s socket timeout by default: exactly
# RedisChannelLayer's blocking read (BZPOPMIN, 5 s), so an idle socket's
# consumer died with "Timeout reading" and its browser reconnected every few
# seconds. Longer than that read: the whole dead-link bound (above).
CHANNEL_LAYER_HOSTS = [
    {
        "address": REDIS_URL,
        **REDIS_CONNECTION_OPTIONS,
        "socket_timeout": REDIS_DEAD_LINK_SECONDS,
    }
]
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": CHANNEL_LAYER_BACKEND,
        "CONFIG": {"hosts": CHANNEL_LAYER_HOSTS, "prefix": "cm:channels"},
    }
}
if CHANNEL_LAYER_BACKEND == "channels_redis.core.RedisChannelLayer":
    # The default capacity of 100 drops messages silently under a burst; one
    # slow tab must not lose price batches or alert popups.
    CHANNEL_LAYERS["default"]["CONFIG"].update({"capacity": 1000, "expiry": 60})
# What one WebSocket may send and leave unread (cryptomonitor/websocket_protocol.py,
# docs/websocket.md "Limits"): a token bucket of WS_MESSAGE_BURST messages
# refilled at WS_MESSAGE_RATE a second (the browser sends one every 25 s), and
# bytes a client may fall behind before it is dropped (a 250-coin batch: 22 KB).
WS_MESSAGE_RATE = env.float("WS_MESSAGE_RATE", default=5.0)
WS_MESSAGE_BURST = env.int("WS_MESSAGE_BURST", default=20)
WS_SEND_BUFFER_BYTES = env.int("WS_SEND_BUFFER_BYTES", default=1024 * 1024)

CELERY_BROKER_URL = REDIS_URL
# kombu passes no socket timeout and no keepalive to redis-py unless told
# (None: a publish on a dead link waited forever; beat stalled on one for a
# whole Redis cut). Its BRPOP (1 s) is read when the socket turns readable,
# and kombu drops one overdue by brpop_timeout + health_check_interval (its
# own default, 25 s, written out here).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **REDIS_CONNECTION_OPTIONS,
    "health_check_interval": 25,
}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Sends to destinations users choose (every Delivery: alerts, retries, test
# sends, digests) run on a queue of their own, consumed by its own worker
# (Procfile, docker-compose.yml): a slow or hostile server then holds only
# that worker, never polls, evaluation or the sweeper on the default queue.
CELERY_TASK_ROUTES = {
    "notifications.tasks.deliver_notification": {"queue": "notifications"},
    "notifications.tasks.deliver_notifications": {"queue": "notifications"},
}

# --- Prices ----------------------------------------------------------------------
COINGECKO_API_PLAN = env.str("COINGECKO_API_PLAN", default="public")
if COINGECKO_API_PLAN not in ("public", "demo", "pro"):
    raise environ.ImproperlyConfigured(
        f"COINGECKO_API_PLAN must be public, demo or pro, not {COINGECKO_API_PLAN!r}"
    )
_COINGECKO_PLAN_URLS = {
    "public": "https://api.coingecko.com/api/v3",
    "demo": "https://api.coingecko.com/api/v3",
    "pro": "https://pro-api.coingecko.com/api/v3",
}
COINGECKO_BASE_URL = env.str(
    "COINGECKO_BASE_URL", default=_COINGECKO_PLAN_URLS[COINGECKO_API_PLAN]
).rstrip("/")
COINGECKO_API_KEY = env.str("COINGECKO_API_KEY", default="")
COINGECKO_TIMEOUT_SECONDS = env.float("COINGECKO_TIMEOUT_SECONDS", default=5.0)
COINGECKO_MAX_RETRIES = env.int("COINGECKO_MAX_RETRIES", default=2)
COINGECKO_BACKOFF_CAP_SECONDS = env.float("COINGECKO_BACKOFF_CAP_SECONDS", default=300.0)

PRICE_POLL_SECONDS = env.int("PRICE_POLL_SECONDS", default=10)
PRICE_SOURCE = env.str("PRICE_SOURCE", default="coingecko")
if PRICE_SOURCE not in ("coingecko", "simulated"):
    raise environ.ImproperlyConfigured(
        f"PRICE_SOURCE must be coingecko or simulated, not {PRICE_SOURCE!r}"
    )
PRICE_SIMULATION_SEED = env.int("PRICE_SIMULATION_SEED", default=0)
TRACKED_COINS = env.list(
    "TRACKED_COINS",
    default=[
        "bitcoin",
        "ethereum",
        "cardano",
        "solana",
        "polkadot",
        "avalanche-2",
        "chainlink",
        "polygon-ecosystem-token",
        "uniswap",
        "cosmos",
    ],
)
VS_CURRENCY = env.str("VS_CURRENCY", default="usd").lower()
# What users may see prices in (docs/currencies.md): polled once in
# VS_CURRENCY, converted with CoinGecko's exchange rates fetched every
# EXCHANGE_RATES_SECONDS; a rate older than EXCHANGE_RATE_STALE_SECONDS is
# not used (pages fall back to VS_CURRENCY with a banner).
DISPLAY_CURRENCIES = list(
    dict.fromkeys(
        code.strip().lower()
        for code in env.list(
            "DISPLAY_CURRENCIES", default=["usd", "eur", "gbp", "jpy", "btc", "eth"]
        )
        if code.strip()
    )
)
if VS_CURRENCY not in DISPLAY_CURRENCIES:
    raise ImproperlyConfigured(
        f"DISPLAY_CURRENCIES must include VS_CURRENCY ({VS_CURRENCY!r}), the currency "
        f"prices are polled and stored in; it is {','.join(DISPLAY_CURRENCIES)!r}"
    )
if not all(
    code.isascii() and code.isalpha() and 2 <= len(code) <= 10 for code in DISPLAY_CURRENCIES
):
    raise ImproperlyConfigured(
        "DISPLAY_CURRENCIES takes CoinGecko's currency codes (2 to 10 letters, e.g. "
        f"usd,eur,btc), not {','.join(DISPLAY_CURRENCIES)!r}"
    )
EXCHANGE_RATES_SECONDS = env.int("EXCHANGE_RATES_SECONDS", default=300)
EXCHANGE_RATE_STALE_SECONDS = env.int("EXCHANGE_RATE_STALE_SECONDS", default=3600)
# Coin logos (prices.logos): each tracked coin's image, downloaded once per
# image URL by a worker task and served from our database, only from these
# origins (scheme://host[:port], exact), at most this size and this long.
COIN_LOGO_ORIGINS = [
    origin.rstrip("/").lower()
    for origin in env.list(
        "COIN_LOGO_ORIGINS",
        default=["https://assets.coingecko.com", "https://coin-images.coingecko.com"],
    )
]
COIN_LOGO_MAX_BYTES = env.int("COIN_LOGO_MAX_BYTES", default=256 * 1024)
COIN_LOGO_TIMEOUT_SECONDS = env.float("COIN_LOGO_TIMEOUT_SECONDS", default=5.0)
# Raw ticks older than this are deleted; the minute and hour rollups stay.
PRICE_TICK_RETENTION_DAYS = env.int("PRICE_TICK_RETENTION_DAYS", default=30)
PRICE_MINUTE_ROLLUP_RETENTION_DAYS = env.int("PRICE_MINUTE_ROLLUP_RETENTION_DAYS", default=90)
# The feed counts as stale after this many poll intervals without a good poll.
PRICE_STALE_AFTER_POLLS = env.int("PRICE_STALE_AFTER_POLLS", default=3)
# Watching a coin starts polling it: these bound what strangers can add to
# every poll. 250 is one /coins/markets page a poll (the TRACKED_COINS setting's
# coins count too but are never refused).
MAX_TRACKED_COINS = env.int("MAX_TRACKED_COINS", default=250)
WATCHLIST_MAX_PER_USER = env.int("WATCHLIST_MAX_PER_USER", default=50)

# --- Alerts and notifications ------------------------------------------------------
ALERTS_MAX_ACTIVE_PER_USER = env.int("ALERTS_MAX_ACTIVE_PER_USER", default=100)
NOTIFICATIONS_EMAIL_GROUP_WINDOW_SECONDS = env.int(
    "NOTIFICATIONS_EMAIL_GROUP_WINDOW_SECONDS", default=60
)
NOTIFICATIONS_EMAIL_GROUP_THRESHOLD = env.int("NOTIFICATIONS_EMAIL_GROUP_THRESHOLD", default=3)
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=6)
NOTIFICATIONS_SENDING_LEASE_SECONDS = env.int("NOTIFICATIONS_SENDING_LEASE_SECONDS", default=120)
# First retry after about this long, doubling per attempt (with jitter), capped at 1 h.
NOTIFICATIONS_BACKOFF_BASE_SECONDS = env.float("NOTIFICATIONS_BACKOFF_BASE_SECONDS", default=10.0)
# "Send a test notification" (settings page, alert admin) per user: each one
# mails or posts to a destination nobody has confirmed yet.
NOTIFICATIONS_TEST_SENDS_PER_MINUTE = env.int("NOTIFICATIONS_TEST_SENDS_PER_MINUTE", default=5)
# Scheduled summaries (docs/summaries.md): schedules per user, and how late
# a summary may still go out after the beat or the worker stopped for a while.
SUMMARIES_MAX_PER_USER = env.int("SUMMARIES_MAX_PER_USER", default=5)
SUMMARIES_CATCH_UP_MINUTES = env.int("SUMMARIES_CATCH_UP_MINUTES", default=60)
# The egress policy (notifications/egress.py) covers every outbound request a
# user aims, webhook and Apprise alike: the old webhook-only names must not be
# silently ignored, which would drop a self-hoster's opt-in or limit.
for _old, _new in {
    "WEBHOOK_TIMEOUT_SECONDS": "OUTBOUND_TIMEOUT_SECONDS",
    "WEBHOOK_ALLOW_PRIVATE_IPS": "OUTBOUND_ALLOW_PRIVATE_IPS",
}.items():
    if _old in env.ENVIRON:
        raise environ.ImproperlyConfigured(
            f"{_old} was renamed {_new}: it now covers webhooks and Apprise URLs alike"
        )
# How long one webhook or Apprise send may take in all (name lookup to reply).
OUTBOUND_TIMEOUT_SECONDS = env.float("OUTBOUND_TIMEOUT_SECONDS", default=5.0)
# Connections a user aims (webhooks, Apprise) to loopback, private, link-local
# or other non-public addresses are refused unless this is True: users must
# not make the server probe its own network.
OUTBOUND_ALLOW_PRIVATE_IPS = env.bool("OUTBOUND_ALLOW_PRIVATE_IPS", default=False)
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Web Push (docs/notifications.md#web-push): the VAPID key pair, base64url
# (private: the 32-byte scalar, or PEM/DER; public: the uncompressed point).
# Unset, one pair is generated once and kept in the database. The subject
# defaults to mailto: DEFAULT_FROM_EMAIL's address.
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")
VAPID_PUBLIC_KEY = env.str("VAPID_PUBLIC_KEY", default="")
VAPID_SUBJECT = env.str("VAPID_SUBJECT", default="")

# --- Email -------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CryptoMonitor <alerts@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- Accounts (django-allauth) ---------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
# Failed logins count per address and per account (accounts.adapter) at every
# door that takes a password: allauth's login, the admin's (routed through it,
# cryptomonitor/urls.py) and POST /api/v1/auth/token/.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
    "login": "30/m/ip",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    # allauth's own default, written out: one confirmation mail per address
    # every 3 minutes, whoever asks (sign-up, email page, notification address).
    "confirm_email": "1/3m/key",
}
# API tokens (the endpoint and /account/tokens/) only for a confirmed account
# address, so signing up with someone else's address gives no API access.
# Off by default only where mail is thrown away and no one could confirm.
API_TOKENS_REQUIRE_VERIFIED_EMAIL = env.bool(
    "API_TOKENS_REQUIRE_VERIFIED_EMAIL",
    default=EMAIL_BACKEND != "django.core.mail.backends.dummy.EmailBackend",  # noqa: F821
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Validates nothing: Django calls its password_changed() after every saved
    # set_password() (allauth's pages, the admin, changepassword, code).
    {"NAME": "accounts.passwords.EndOtherCredentials"},
]

# --- REST API -------------------------------------------------------------------------
# docs/api.md describes these choices (auth, errors, pagination, throttling).
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "common.api_schema.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "common.api_pagination.ApiPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Token first: its WWW-Authenticate header makes "no credentials" a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's anon, user and scoped throttles, in fixed windows (api_throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "common.api_throttling.AnonRateThrottle",
        "common.api_throttling.UserRateThrottle",
        "common.api_throttling.ScopedRateThrottle",
    ],
    "EXCEPTION_HANDLER": "common.api_errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="120/min"),
        "user": env.str("API_THROTTLE_USER", default="600/min"),
        "token_obtain": env.str("API_THROTTLE_TOKEN_OBTAIN", default="10/min"),
        # POST /api/v1/alerts/preview/: a replay of 30 days a request.
        "alert_preview": env.str("API_THROTTLE_ALERT_PREVIEW", default="60/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CryptoMonitor API",
    "DESCRIPTION": "Prices, history, alerts and notifications of a CryptoMonitor instance.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Read-only fields (id, status, ...) stay out of request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "alerts.models.Channel",
        "AlertStatusEnum": "alerts.models.Status",
        "DeliveryStatusEnum": "notifications.models.DeliveryStatus",
    },
}

# --- Client addresses behind reverse proxies ---------------------------------------
# How many proxies of ours stand in front, each writing the address it saw as
# the last X-Forwarded-For entry (docker-compose.yml: 1, nginx, which drops
# what the client sent). 0 trusts no header: the
# client is REMOTE_ADDR (`make run`, daphne on its own). API throttles and
# allauth's login and signup rate limits count per client address; a header a
# client wrote itself must never pick that address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# --- Metrics (docs/metrics.md) ------------------------------------------------------
# Set: /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`. Empty:
# only callers on this host that came through no proxy.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Where every process of this host writes its series (prometheus_client reads
# the variable itself, at import); unset, each process keeps its own. `make
# run` and docker/entrypoint.sh set it and empty the directory at start.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# A Celery container's exporter port (it serves no HTTP otherwise); unset: none.
METRICS_PORT = env.int("METRICS_PORT", default=None)
# The exporter asks for no token: loopback unless a private network (compose's)
# is the only way in.
METRICS_ADDR = env.str("METRICS_ADDR", default="127.0.0.1")

# --- Internationalisation, static files ---------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Front-end packages come from npm (package.json) and are served by the app
# itself: no CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/lightweight-charts", BASE_DIR / "node_modules" / "lightweight-charts" / "dist"),
    ("vendor/pico", BASE_DIR / "node_modules" / "@picocss" / "pico" / "css"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- HTTPS and browser policies ----------------------------------------------------
if not DEBUG:
    # HTTPS only, unless the operator loosens one of these (a TLS-terminating
    # proxy that redirects plain HTTP itself, a try-out over plain HTTP).
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Container health checks call /healthz over plain HTTP from inside.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    # nginx (docker/nginx.conf) sets X-Forwarded-Proto to the scheme it saw.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# django-csp, in development too so violations show early: scripts and styles
# only from our own static files (no inline code, no CDN). 'self' in
# connect-src covers ws:/wss: to this host (CSP Level 3). Coin logos are
# our own copies (prices.logos); Pico's icons are data: URIs. The API docs
# pages loosen style-src for themselves (cryptomonitor/api_urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Logs (docs/logging.md) ----------------------------------------------------------
# Every line, Django's, Celery's (cryptomonitor/celery.py) and ours, goes
# through structlog's formatter: one JSON object per line for log collectors,
# or key=value text for people (the default with DEBUG, so `make run`).
LOG_FORMAT = structured_logs.log_format(env.str("LOG_FORMAT", default=""), DEBUG)
structured_logs.configure_structlog()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": structured_logs.formatter(LOG_FORMAT, tty=sys.stderr.isatty()),
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request at INFO with its full URL (250 coin ids per
        # poll); prices.coingecko logs what matters: retries and failures.
        "httpx": {"level": "WARNING"},
        # The request's own line (common/request_observation.py) is the HTTP
        # log; Django's own "Not Found: /path" lines would repeat it.
        "django.request": {"level": "ERROR"},
        # One line a request (errors at WARNING and ERROR): about 130 µs each
        # on the API, so a busy site with a proxy's own access log may raise
        # this to WARNING and keep only the failures.
        "cryptomonitor.http": {"level": env.str("LOG_HTTP_LEVEL", default="INFO")},
    },
}
# Each request gets a request_id (the X-Request-ID response header too). One
# set by a proxy of ours is kept: nginx sets it (docker/nginx.conf), so it is
# trusted when TRUSTED_PROXY_COUNT says nginx stands in front.
TRUST_UPSTREAM_REQUEST_ID = env.bool("TRUST_UPSTREAM_REQUEST_ID", default=TRUSTED_PROXY_COUNT > 0)
# django-structlog carries the request id and the poll id to the Celery tasks
# a request or a poll enqueues, in each task's headers.
DJANGO_STRUCTLOG_CELERY_ENABLED = True
