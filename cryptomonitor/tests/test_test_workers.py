"""`make test` runs two pytest-xdist workers: each keeps its broadcasts to itself."""

import json
import os
import subprocess
import sys

from django.conf import settings

PRINT_PREFIX = (
    "import json, os; import tests_support.settings as s;"
    " print(json.dumps([s.CHANNEL_LAYERS['default']['CONFIG']['prefix'],"
    " os.environ['TEST_CHANNEL_PREFIX']]))"
)


def channel_prefix(**env: str) -> list[str]:
    """The test settings' channel-layer prefix in a new process, and what it passes on."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    result = subprocess.run(
        [sys.executable, "-c", PRINT_PREFIX],
        cwd=settings.BASE_DIR,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_each_worker_adds_its_name_to_the_prefix_the_controller_passed_on():
    run = "cm-test-1234:channels"

    gw0 = channel_prefix(TEST_CHANNEL_PREFIX=run, PYTEST_XDIST_WORKER="gw0")
    gw1 = channel_prefix(TEST_CHANNEL_PREFIX=run, PYTEST_XDIST_WORKER="gw1")

    assert gw0 == [f"{run}:gw0"] * 2
    assert gw1 == [f"{run}:gw1"] * 2


def test_a_process_a_worker_starts_keeps_the_workers_prefix():
    worker = "cm-test-1234:channels:gw1"

    assert channel_prefix(TEST_CHANNEL_PREFIX=worker, PYTEST_XDIST_WORKER="gw1") == [worker] * 2
