"""Benchmarks keep their metrics as production does: prometheus_client's
multiprocess mode, in a scratch PROMETHEUS_MULTIPROC_DIR (docs/metrics.md).

Call use_scratch_metrics_dir() before Django is set up (prometheus_client
picks its mode when the first metric is made); the servers a benchmark starts
inherit the variable. The directory is removed when the benchmark exits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile


def use_scratch_metrics_dir() -> str:
    """Set PROMETHEUS_MULTIPROC_DIR to a new directory unless it is set; return it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return os.environ["PROMETHEUS_MULTIPROC_DIR"]
    path = tempfile.mkdtemp(prefix="cm-bench-metrics-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path
