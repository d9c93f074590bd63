"""The ASGI entry point tunes the garbage collector of the daphne process that loads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PROBE = (
    "import gc, json\n"
    "before = gc.get_threshold()[0]\n"
    "import cryptomonitor.asgi as asgi\n"
    "print(json.dumps({'before': before, 'after': gc.get_threshold()[0],"
    " 'frozen': gc.get_freeze_count(), 'wanted': asgi.GC_YOUNG_THRESHOLD}))\n"
)


def test_loading_the_asgi_app_freezes_the_startup_heap_and_widens_the_young_generation():
    # A fresh interpreter, as daphne is: the test process's collector stays as it is.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests_support.settings"}
    output = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert output.returncode == 0, output.stderr
    probe = json.loads(output.stdout.strip().splitlines()[-1])
    assert probe["before"] == 700
    assert probe["after"] == probe["wanted"] == 50_000
    assert probe["frozen"] > 1000
