"""What the harness's own servers (mail, feed) share: their command line and their end."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path


def arguments(description: str, path_option: str) -> argparse.Namespace:
    """--host and --port to serve on, and the one file the server works with."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(path_option, type=Path, required=True)
    return parser.parse_args()


def wait_for_stop() -> None:
    """Return on SIGTERM (Cluster.stop_service, teardown) or SIGINT."""
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
