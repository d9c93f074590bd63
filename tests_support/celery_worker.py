"""A real `celery worker` subprocess for tests, on a queue of the test's own.

It reads the pytest test database (current_database_url) and the test Redis,
so it sees rows committed by `transaction=True` tests; its own queue keeps it
from taking tasks meant for anyone else.
"""

from __future__ import annotations

import os
import subprocess
from typing import IO

from django.conf import settings

from tests_support.live_server import current_database_url


def start_celery_worker(
    queue: str,
    settings_module: str = "tests_support.settings",
    *,
    output: IO | None = None,
    **env: str,
) -> subprocess.Popen:
    """Start a solo-pool worker consuming `queue`; extra `env` goes to its environment.

    `output`, if given, receives the worker's stdout and stderr (its log lines).
    """
    return subprocess.Popen(  # noqa: S603 (our own venv binary, fixed arguments)
        [
            f"{settings.BASE_DIR}/.venv/bin/celery",
            "-A",
            "cryptomonitor",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            # No cluster chatter: the worker is ready sooner and talks to nobody else.
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "TEST_DATABASE_URL": current_database_url(),
            "TEST_REDIS_URL": settings.REDIS_URL,
            **env,
        },
        stdout=output,
        stderr=None if output is None else subprocess.STDOUT,
    )
