"""The project on a fresh SQLite file, as `make run` runs it without DATABASE_URL.

The suite runs on PostgreSQL; tests of SQLite's code paths run manage.py in
a subprocess with the real settings pointed at a file of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from django.conf import settings


def sqlite_manage(database: Path, **env: str) -> Callable[..., str]:
    """A `manage(*args) -> stdout` running on `database`; env adds settings."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": settings.REDIS_URL,
        "LOG_LEVEL": "ERROR",
        **env,
    }

    def manage(*args: str) -> str:
        return subprocess.run(  # noqa: S603 (our manage.py, argv from tests)
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=environment,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    return manage
