"""Structured logs: one structlog pipeline for Django's, Celery's and our own lines.

Code keeps logging through the standard library (`logging.getLogger(__name__)`);
the settings' LOGGING renders every record with structlog's ProcessorFormatter,
as one JSON object per line (`LOG_FORMAT=json`) or readable key=value text
(`console`). Context bound with structlog.contextvars (request_id by
common.request_observation, poll_id by the poll, task_id by its Celery
receiver) lands on every line logged while it is bound, stdlib lines included.

Nothing secret may reach a line (docs/logging.md): call sites log hosts, not
URLs, and `redact` is the safety net every line passes through last.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

LOG_FORMATS = ("json", "console")
REDACTED = "***"

# Web URLs: the host is shown, a path or query may be a key (webhooks).
_WEB_SCHEMES = frozenset({"http", "https", "ws", "wss"})
# Our broker and database: host and database are shown, user-info never.
_INFRA_SCHEMES = frozenset({"redis", "rediss", "postgres", "postgresql", "amqp", "amqps"})
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{0,19})://([^\s'\"<>]*)")
# Links whose last part is a key: allauth's e-mail confirmation and password
# reset, our notification address confirmation.
_KEY_IN_PATH = re.compile(r"(/(?:confirm-email|confirm|reset/key|key)/)[^/?#\s'\"]+")
_SECRET_QUERY = re.compile(
    r"([?&][^=&#\s]*(?:token|key|secret|pass|pwd|signature|sig|code|auth|session)[^=&#\s]*=)"
    r"[^&#\s'\"]+",
    re.IGNORECASE,
)
_SECRET_FIELD = re.compile(r"password|passwd|secret|token|authorization|cookie|session|api_key")
# Settings whose values are secrets; their literal values are scrubbed too.
_SECRET_SETTINGS = (
    "SECRET_KEY",
    "METRICS_TOKEN",
    "COINGECKO_API_KEY",
    "EMAIL_HOST_PASSWORD",
    "VAPID_PRIVATE_KEY",
)
_MIN_SECRET_LENGTH = 6


def _shown_url(match: re.Match[str]) -> str:
    """A URL as logs may show it: scheme and host of a known kind, nothing else."""
    scheme, rest = match.group(1), match.group(2)
    known = scheme.lower()
    if known not in _WEB_SCHEMES | _INFRA_SCHEMES:
        # Apprise and the like: the "host" itself may be a bot token.
        return f"{scheme}://{REDACTED}"
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = netloc.rpartition("@")[2]
    tail = rest[len(netloc) :]
    if known in _INFRA_SCHEMES:
        return f"{scheme}://{host}{re.split(r'[?#]', tail, maxsplit=1)[0]}"
    return f"{scheme}://{host}/{REDACTED}" if tail.strip("/") else f"{scheme}://{host}{tail}"


def redact_text(text: str) -> str:
    """`text` without URL paths, queries and user-info, link keys or known secrets."""
    if "://" in text:
        text = _URL.sub(_shown_url, text)
    if "/" in text:
        text = _KEY_IN_PATH.sub(rf"\1{REDACTED}", text)
    if "=" in text:
        text = _SECRET_QUERY.sub(rf"\1{REDACTED}", text)
    for secret in _known_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the last safety net before a line is rendered."""
    for key, value in event_dict.items():
        event_dict[key] = REDACTED if _secret_field(key) else _redacted(value)
    return event_dict


def _redacted(value: Any) -> Any:
    """`value` as a line may show it, however deep: Celery's failure lines carry
    a dict holding the exception, its traceback and the task's arguments."""
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {k: REDACTED if _secret_field(str(k)) else _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(item) for item in value]
    # Anything else would be rendered by its repr: an exception names its URL.
    return redact_text(repr(value))


@functools.lru_cache(maxsize=1024)
def _secret_field(key: str) -> bool:
    return bool(_SECRET_FIELD.search(key))


_secrets: tuple[str, ...] | None = None


def _known_secrets() -> tuple[str, ...]:
    """The settings' secret values (read once, after the settings are loaded)."""
    global _secrets  # noqa: PLW0603 (a cache filled once per process)
    if _secrets is None:
        if not settings.configured:
            return ()
        values = [str(getattr(settings, name, "") or "") for name in _SECRET_SETTINGS]
        values += [os.environ.get(name, "") for name in _SECRET_SETTINGS]
        values += [str(db.get("PASSWORD") or "") for db in settings.DATABASES.values()]
        _secrets = tuple(value for value in values if len(value) >= _MIN_SECRET_LENGTH)
    return _secrets


# --- Configuration (settings.LOGGING) -------------------------------------------------


def log_format(value: str, debug: bool) -> str:
    """LOG_FORMAT checked: json or console; unset means console with DEBUG, else json."""
    chosen = value.strip().lower() or ("console" if debug else "json")
    if chosen not in LOG_FORMATS:
        raise ImproperlyConfigured(
            f"LOG_FORMAT must be json (one JSON object per line, for log collectors) or "
            f"console (key=value lines, for people), not {value!r}"
        )
    return chosen


def shared_processors() -> list:
    """What every line gets, from structlog or the standard library: context and metadata."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(chosen: str, tty: bool = False) -> dict[str, Any]:
    """LOGGING's formatter entry: ProcessorFormatter rendering `chosen` (json, console)."""
    renderer = (
        structlog.processors.JSONRenderer()
        if chosen == "json"
        else structlog.dev.ConsoleRenderer(
            colors=tty, exception_formatter=structlog.dev.plain_traceback
        )
    )
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": [*shared_processors(), structlog.stdlib.ExtraAdder()],
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before the redaction sees them.
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    }


def configure_structlog() -> None:
    """structlog's own loggers (django-structlog's) hand their lines to LOGGING's formatter."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    # Python's warnings (Celery's root warning, deprecations) become log lines too.
    logging.captureWarnings(True)
