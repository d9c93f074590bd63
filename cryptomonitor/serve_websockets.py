"""Run several daphne processes on one port: docker-compose.yml's `ws` service.

One daphne process runs one event loop on one core. bench/fanout.py measured
1,000 WebSocket clients on two cores at p99 97 ms with two processes against
153 ms with one (docs/websocket.md), so the container runs `--processes`
(WS_PROCESSES in compose, default 2) of them.

Each child gets a listening socket of its own on the same address, bound with
SO_REUSEPORT, and serves it with `daphne --fd`: the kernel spreads new
connections evenly over the sockets, as the benchmark spread its clients over
one port per process. Every other argument goes to daphne unchanged.

SIGTERM or SIGINT is passed to every child. When any child exits the others
are stopped and so is this process, with a failure status unless it was asked
to stop: Docker's restart policy then starts a whole container again rather
than leaving it serving at part capacity.

    python -m cryptomonitor.serve_websockets --processes 2 --host 0.0.0.0 \\
        --port 8001 --proxy-headers cryptomonitor.asgi:application
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys

STOP_TIMEOUT_SECONDS = 20.0
BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(BACKLOG)
    listener.set_inheritable(True)
    return listener


def start_children(args: argparse.Namespace, daphne_args: list[str]) -> list[subprocess.Popen]:
    children = []
    for _ in range(args.processes):
        listener = listening_socket(args.host, args.port)
        fd = listener.fileno()
        command = [sys.executable, "-m", "daphne", "--fd", str(fd), *daphne_args]
        children.append(subprocess.Popen(command, pass_fds=[fd]))  # noqa: S603 (our argv)
        # The child holds the socket now; ours would only keep it open after
        # the child died, queueing connections nobody accepts.
        listener.close()
    return children


def stop(children: list[subprocess.Popen], signum: int = signal.SIGTERM) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signum)


def wait_for_all(children: list[subprocess.Popen]) -> None:
    for child in children:
        try:
            child.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="daphne processes (default 2)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args, daphne_args = parser.parse_known_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")

    stopping = False

    def forward(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        stop(children, signum)

    # Handlers before the children exist would find none to stop; a signal
    # in between is handled as soon as they do.
    children: list[subprocess.Popen] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    children.extend(start_children(args, daphne_args))
    if stopping:
        stop(children)

    pid, _status = os.wait()  # the first child to exit, for whatever reason
    stop(children)
    wait_for_all([child for child in children if child.pid != pid])
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())
