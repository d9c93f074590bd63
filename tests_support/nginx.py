"""docker/nginx.conf run locally, in front of servers on 127.0.0.1 ports.

`running_process` starts any server and waits until it accepts connections.

The proxy's test (cryptomonitor/tests/test_nginx_proxy.py) and bench/api.py
run the production config itself with only its addresses and paths
rewritten: the upstream `server` lines, the `listen` port, and the pid,
temporary and cache files (into a directory of the caller's).
"""

from __future__ import annotations

import getpass
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests_support.live_server import _stop

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG = BASE_DIR / "docker" / "nginx.conf"
START_TIMEOUT_SECONDS = 30.0


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).is_file()),
        None,
    )


def render_config(http_upstream: str, ws_upstream: str, port: int, workdir: Path) -> Path:
    """docker/nginx.conf pointed at the given upstreams and port, written into workdir."""
    text = CONFIG.read_text()
    replacements = [
        # Fixed addresses here; `resolve` (re-resolving Docker's names) needs
        # nginx >= 1.27.3, newer than Debian bookworm's.
        (r"server web:8000 resolve;", f"server {http_upstream};"),
        (r"server ws:8001 resolve;", f"server {ws_upstream};"),
        (r"listen 8000;", f"listen 127.0.0.1:{port};"),
        (r"pid /tmp/nginx\.pid;", f"pid {workdir / 'nginx.pid'};"),
        (r"(\w+_temp_path|proxy_cache_path) /tmp/nginx-", rf"\1 {workdir}/"),
    ]
    for pattern, replacement in replacements:
        text, found = re.subn(pattern, replacement, text)
        if not found:
            raise ValueError(f"docker/nginx.conf no longer has {pattern!r}")
    path = workdir / "nginx.conf"
    path.write_text(text)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_process(
    command: list[str], port: int, log_path: Path, **popen
) -> Iterator[subprocess.Popen]:
    """Run `command` until the block ends; enter the block, with it, once it accepts on `port`."""
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 (an argv of the caller's, no shell)
            command, stdout=log, stderr=subprocess.STDOUT, **popen
        )
    try:
        _wait_for_port(process, port, log_path)
        yield process
    finally:
        _stop(process)


@contextmanager
def running_nginx(http_upstream: str, ws_upstream: str, workdir: Path) -> Iterator[int]:
    """Start nginx with the rendered config on a free port; yield the port; stop it."""
    binary = nginx_binary()
    if binary is None:
        raise FileNotFoundError("nginx is not installed")
    port = free_port()
    config = render_config(http_upstream, ws_upstream, port, workdir)
    # Workers as our own user (nginx ignores `user` unless started as root):
    # the default, nobody, cannot enter the caller's directory to use the cache.
    user = f"user {getpass.getuser()};"
    command = [binary, "-c", str(config), "-e", "stderr", "-g", f"daemon off; {user}"]
    with running_process(command, port, workdir / "nginx.log"):
        yield port


def _wait_for_port(process: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{process.args[0]} did not start:\n{log_path.read_text()[-3000:]}")
