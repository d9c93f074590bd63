"""`Cluster`: bring the test hosts up, break them, look inside, and take them down.

    cluster = Cluster().up()        # build, network, every service ready
    cluster.kill("node-a")          # SIGKILL every process of a host
    cluster.start_host("node-a")    # and bring its services back
    cluster.cut("redis"); cluster.heal("redis")        # cable out, cable in
    cluster.restart("postgres")     # a clean restart of one service
    cluster.http("GET", "/healthz") # from the clients host, through lb
    cluster.sql("SELECT count(*) FROM alerts_alertevent")
    cluster.mail.count(); cluster.feed.set_price("bitcoin", "30000")
    cluster.down()                  # idempotent; also `python -m deploy.cluster down`

Every process runs in its host's network namespace (`ip netns exec`); its
output goes to var/cluster/<host>/<service>.log. Data, sockets and metrics
live in var/cluster/run/, which down() removes; the logs stay until the next
up(). The harness reads PostgreSQL, Redis, the mail record and the feed's
control through Unix sockets and files, so it can look even at a host whose
network is cut.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import psycopg
import redis
from psycopg import sql

from deploy.cluster import build, netns, probes, services
from deploy.cluster.feed import FeedControl
from deploy.cluster.mail import MailRecord
from deploy.cluster.services import DATABASE, DATABASE_USER, Context, Secrets, Service
from deploy.cluster.topology import NODES, POSTGRES_PORT, Topology

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = BASE_DIR / "var" / "cluster"
PYTHON = BASE_DIR / ".venv" / "bin" / "python"
LOG_TAIL_LINES = 40
STOP_GRACE_SECONDS = 20.0
FIRST_POLL_SECONDS = 90.0
T = TypeVar("T")


class ClusterError(RuntimeError):
    """The cluster could not do what was asked; the message names the host and shows its log."""


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def postgres_bin() -> Path:
    """The newest PostgreSQL server installed (Debian: /usr/lib/postgresql/<v>/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    if found:
        return found[-1].parent
    if on_path := shutil.which("postgres"):
        return Path(on_path).resolve().parent
    raise ClusterError("no PostgreSQL server found (apt-get install postgresql)")


def check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise ClusterError("the cluster needs root: network namespaces, veth pairs, a bridge")
    tools = ("ip", "tc", "setpriv", "redis-server")
    missing = [tool for tool in tools if not shutil.which(tool, path=services.SYSTEM_PATH)]
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        missing.append("nginx (make proxy installs it)")
    if not PYTHON.exists():
        missing.append(f"{PYTHON} (make deps)")
    if missing:
        raise ClusterError(f"missing: {', '.join(missing)}")


class Cluster:
    def __init__(
        self,
        topology: Topology | None = None,
        var: Path = VAR_DIR,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.topology = topology or Topology()
        # Product settings (environment variables) for every product process.
        self.settings = dict(settings or {})
        self.var = var
        self.run_dir = var / "run"
        self.services: dict[str, Service] = {}
        self.timings: dict[str, float] = {}
        self.netem_available = False
        self.mail = MailRecord(self.run_dir / "mail" / "messages.jsonl")
        self.feed = FeedControl(self.run_dir / "feed" / "control.sock")
        self._runners: dict[str, netns.InNamespace] = {}
        self._lock: IO[str] | None = None
        self.ctx: Context | None = None

    # --- lifecycle ------------------------------------------------------------------

    def up(self) -> Cluster:
        """Build, network, every service started and ready, the first poll through lb.

        On any failure it tears down what it made and raises ClusterError.
        """
        check_prerequisites()
        self._take_lock()
        began = time.monotonic()
        try:
            self.down(keep_lock=True)
            self._fresh_directories()
            with self._phase("build"):
                app, rebuilt = build.build(self.var / "build", PYTHON, self.var / "build.log")
                self.timings["rebuilt"] = float(rebuilt)
            with self._phase("network"):
                netns.create(self.topology)
                self.netem_available = netns.netem_available(self.topology, "clients")
            self.ctx = self._context(app)
            vapid = self._start_vapid_keys()
            with self._phase("infrastructure"):
                self._init_postgres()
                infrastructure = [
                    services.postgres_service(self.ctx),
                    services.redis_service(self.ctx),
                    services.mail_service(self.ctx),
                    services.feed_service(self.ctx),
                ]
                self._start_and_wait(infrastructure)
                self._create_database()
            self._finish_vapid_keys(vapid)
            with self._phase("migrate"):
                self._migrate()
            with self._phase("application"):
                application = [s for node in NODES for s in services.node_services(self.ctx, node)]
                application.append(services.beat_service(self.ctx))
                config = services.render_nginx_config(self.ctx)
                application.append(services.nginx_service(self.ctx, _nginx(), config))
                self._start_and_wait(application)
            with self._phase("first poll"):
                self._wait_for_first_poll()
        except BaseException:
            self.down()
            raise
        self.timings["total"] = time.monotonic() - began
        return self

    def down(self, *, keep_lock: bool = False) -> list[str]:
        """Remove every process, namespace, veth, the bridge and var/cluster/run.

        Safe to call at any time, any number of times, from any process: it
        finds what to remove by name, not from this object's memory.
        """
        for runner in self._runners.values():
            runner.close()
        self._runners.clear()
        clients_of_others = ("lb", *NODES, "beat", "clients")
        removed = netns.destroy(
            grace_seconds=STOP_GRACE_SECONDS,
            first=[self.topology.namespace(host) for host in clients_of_others],
        )
        for service in self.services.values():
            if service.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    service.process.wait(timeout=5)
        self.services.clear()
        if self.run_dir.exists():
            shutil.rmtree(self.run_dir, ignore_errors=True)
            removed.append(f"directory {self.run_dir}")
        if not keep_lock and self._lock is not None:
            self._lock.close()
            self._lock = None
        return removed

    def __enter__(self) -> Cluster:
        return self.up()

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    # --- faults -----------------------------------------------------------------------

    def kill(self, host: str) -> list[int]:
        """SIGKILL every process of the host at once (a power cut); returns their pids."""
        pids = netns.pids_in(self.topology.namespace(host))
        netns.signal_all(pids, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while netns.pids_in(self.topology.namespace(host)) and time.monotonic() < deadline:
            time.sleep(0.05)
        for service in self.host_services(host):
            if service.process is not None:
                service.process.wait()
        return pids

    def stop_host(self, host: str) -> None:
        """Stop the host's services the polite way (each its own stop signal)."""
        for service in self.host_services(host):
            self.stop_service(service.key)

    def start_host(self, host: str) -> None:
        """Start the host's services again (after kill or stop) and wait until ready."""
        self._start_and_wait([s for s in self.host_services(host) if not s.running])

    def cut(self, host: str) -> None:
        """Unplug the host: its link to the bridge goes down, packets are lost both ways."""
        netns.set_link(self.topology, self._known(host), up=False)

    def heal(self, host: str) -> None:
        """Plug the host back in and remove any delay, loss or rate limit on its link."""
        netns.set_link(self.topology, self._known(host), up=True)
        netns.clear_qdisc(self.topology, host)

    def netem(self, host: str, delay_ms: float = 0, loss_pct: float = 0) -> None:
        """Delay and/or drop packets each way on the host's link.

        Raises netns.NetemUnavailable on a kernel without sch_netem (see
        `netem_available`, checked by up()).
        """
        netns.netem(self.topology, self._known(host), delay_ms, loss_pct)

    def throttle(self, host: str, rate: str) -> None:
        """Limit the host's link to `rate` each way ("1mbit"); heal() lifts it."""
        netns.throttle(self.topology, self._known(host), rate)

    def restart(self, name: str) -> None:
        """Stop one service cleanly and start it again: "postgres", "redis", "node-a/web"..."""
        service = self.service(name)
        self.stop_service(service.key)
        self._start_and_wait([service])

    def stop_service(self, name: str, timeout: float = STOP_GRACE_SECONDS) -> None:
        service = self.service(name)
        if not service.running:
            return
        assert service.process is not None
        service.process.send_signal(service.stop_signal)
        try:
            service.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Its session holds its children too (prefork workers, postgres backends).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()

    def start_service(self, name: str) -> None:
        self._start_and_wait([self.service(name)])

    # --- looking inside -----------------------------------------------------------------

    def service(self, name: str) -> Service:
        """A service by key ("node-a/web") or by a name only one host has ("postgres")."""
        if name in self.services:
            return self.services[name]
        matches = [s for s in self.services.values() if s.name == name]
        if len(matches) != 1:
            known = ", ".join(self.services)
            raise ClusterError(f"no single service {name!r}; the services are: {known}")
        return matches[0]

    def host_services(self, host: str) -> list[Service]:
        self._known(host)
        return [s for s in self.services.values() if s.host == host]

    def address(self, host: str) -> str:
        return self.topology.address(self._known(host))

    def call(self, host: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on a thread inside the host's network: its sockets are that host's."""
        return self.submit(host, fn, *args, **kwargs).result()

    def submit(self, host: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """As call(), without waiting: a Future (a few threads per host run at once)."""
        if host not in self._runners:
            self._runners[host] = netns.InNamespace(self.topology.namespace(self._known(host)))
        return self._runners[host].submit(fn, *args, **kwargs)

    def http(self, method: str, path: str, *, timeout: float = 10, **kwargs: Any) -> httpx.Response:
        """A request from the clients host; a path ("/healthz") goes through lb."""
        url = path if "://" in path else f"{self.topology.lb_url}{path}"
        return self.call("clients", httpx.request, method, url, timeout=timeout, **kwargs)

    def run(
        self,
        host: str,
        argv: Sequence[str],
        *,
        timeout: float = 120,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command on the host and wait for it; its output comes back as text."""
        namespace = self.topology.namespace(self._known(host))
        done = subprocess.run(  # noqa: S603 (argv from the harness's caller, no shell)
            netns.exec_argv(namespace, argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env if env is not None else services.base_environment(self._ready_ctx()),
            cwd=cwd or BASE_DIR,
            check=False,
        )
        if check and done.returncode != 0:
            raise ClusterError(
                f"{host}: {' '.join(argv)} exited with {done.returncode}:\n"
                f"{(done.stdout + done.stderr)[-3000:]}"
            )
        return done

    def spawn(
        self, host: str, argv: Sequence[str], name: str, *, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a command on the host in the background (load generators); log in its dir."""
        log = self.var / host / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            return subprocess.Popen(  # noqa: S603 (argv from the harness's caller, no shell)
                netns.exec_argv(self.topology.namespace(self._known(host)), argv),
                env=env if env is not None else services.base_environment(self._ready_ctx()),
                cwd=BASE_DIR,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def manage(
        self, host: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """`manage.py <args>` on a node, with that node's production settings."""
        return self.run(
            host,
            [str(PYTHON), "manage.py", *args],
            env={**self._one_off_environment(host, "manage"), **(env or {})},
            cwd=self._ready_ctx().app,
            timeout=timeout,
        )

    def _one_off_environment(self, host: str, name: str) -> dict[str, str]:
        """A product process that is no service: its metrics directory made first."""
        environment = services.product_environment(self._ready_ctx(), host, name)
        Path(environment["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        return environment

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query on the application's database, as its superuser (Unix socket)."""
        with self.database() as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def database(self, dbname: str = DATABASE) -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.run_dir / "db" / "socket"),
            port=POSTGRES_PORT,
            user="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def redis(self) -> redis.Redis:
        """The cluster's Redis through its Unix socket (the application's db 0)."""
        return redis.Redis(unix_socket_path=str(self.run_dir / "redis" / "redis.sock"))

    def memory(self) -> dict[str, tuple[int, int]]:
        """Per host: (processes, bytes of proportional set size: shared pages split)."""
        usage = {}
        for host in self.topology.hosts:
            pids = netns.pids_in(self.topology.namespace(host))
            usage[host] = (len(pids), sum(_pss(pid) for pid in pids))
        return usage

    def table(self) -> str:
        memory = self.memory()
        rows = [("host", "address", "MiB", "processes (service: pid (ready after)) [all]")]
        for host in self.topology.hosts:
            running = [
                f"{s.name}: {s.process.pid} ({s.ready_after:.1f} s)"
                for s in self.host_services(host)
                if s.running and s.process is not None
            ]
            count, pss = memory[host]
            rows.append(
                (host, self.address(host), f"{pss / 2**20:.0f}", f"{', '.join(running)} [{count}]")
            )
        total = sum(pss for _count, pss in memory.values())
        rows.append(("all", str(self.topology.subnet), f"{total / 2**20:.0f}", ""))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
            for row in rows
        )

    # --- internals ------------------------------------------------------------------

    def _known(self, host: str) -> str:
        if host not in self.topology.hosts:
            raise ClusterError(f"no host {host!r}; the hosts are: {', '.join(self.topology.hosts)}")
        return host

    def _ready_ctx(self) -> Context:
        if self.ctx is None:
            raise ClusterError("the cluster is not up")
        return self.ctx

    def _take_lock(self) -> None:
        if self._lock is not None:
            return
        self.var.mkdir(parents=True, exist_ok=True)
        lock = (self.var / ".lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise ClusterError(
                f"a cluster is already running here ({holder}); stop it with Ctrl-C or "
                "`make cluster-down`"
            ) from None
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}")
        lock.flush()
        self._lock = lock

    def _fresh_directories(self) -> None:
        for host in self.topology.hosts:
            shutil.rmtree(self.var / host, ignore_errors=True)
            (self.var / host).mkdir(parents=True)
            (self.run_dir / host).mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        yield
        self.timings[name] = time.monotonic() - began

    def _context(self, app: Path) -> Context:
        return Context(
            topology=self.topology,
            app=app,
            harness_root=BASE_DIR,
            python=PYTHON,
            run=self.run_dir,
            logs=self.var,
            postgres_bin=postgres_bin(),
            secrets=Secrets(
                secret_key=secrets.token_urlsafe(50),
                database_password=secrets.token_urlsafe(24),
                metrics_token=secrets.token_urlsafe(32),
            ),
            probe=lambda fn, *args: self.call("clients", fn, *args),
            settings=self.settings,
        )

    def _start(self, service: Service) -> None:
        service.log.parent.mkdir(parents=True, exist_ok=True)
        service.log_offset = service.log.stat().st_size if service.log.exists() else 0
        with service.log.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"=== {stamp} cluster: starting {' '.join(service.argv)}\n".encode())
            log.flush()
            service.process = subprocess.Popen(  # noqa: S603 (argv built by services.py)
                netns.exec_argv(self.topology.namespace(service.host), service.argv),
                cwd=service.cwd,
                env=service.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # A session of its own: Ctrl-C in the terminal reaches the
                # harness only, which stops everything in order.
                start_new_session=True,
            )
        service.started_at = time.monotonic()
        self.services[service.key] = service

    def _start_and_wait(self, batch: list[Service]) -> None:
        for service in batch:
            self._start(service)
        pending = list(batch)
        while pending:
            for service in list(pending):
                if self._is_ready(service):
                    pending.remove(service)
            time.sleep(0.2)

    def _is_ready(self, service: Service) -> bool:
        assert service.process is not None
        code = service.process.poll()
        if code is not None:
            raise self._failure(service, f"exited with code {code} before it was ready")
        service.problem = service.ready(service.log_offset) or ""
        if not service.problem:
            service.ready_after = time.monotonic() - service.started_at
            return True
        if time.monotonic() - service.started_at > service.ready_seconds:
            raise self._failure(
                service, f"not ready after {service.ready_seconds:.0f} s: {service.problem}"
            )
        return False

    def _failure(self, service: Service, what: str) -> ClusterError:
        return ClusterError(
            f"{service.host} ({self.address(service.host)}): {service.name} {what}\n"
            f"--- last lines of {service.log} ---\n{log_tail(service.log)}"
        )

    def _init_postgres(self) -> None:
        ctx = self._ready_ctx()
        data, socket_dir = ctx.data("db", "pgdata"), ctx.data("db", "socket")
        for directory in (data, socket_dir):
            directory.mkdir(parents=True, exist_ok=True)
            shutil.chown(directory, "postgres", "postgres")
        data.chmod(0o700)
        shutil.chown(ctx.data("db"), "postgres", "postgres")
        log = ctx.log("db", "initdb")
        with log.open("w") as out:
            done = subprocess.run(  # noqa: S603 (fixed argv)
                [
                    *services.as_user("postgres"),
                    str(ctx.postgres_bin / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",  # a test host's data; the server itself syncs as usual
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ],  # fmt: skip
                stdout=out,
                stderr=subprocess.STDOUT,
                env=services.base_environment(ctx),
                cwd=ctx.data("db"),
                check=False,
            )
        if done.returncode != 0:
            raise ClusterError(f"db: initdb failed\n{log_tail(log)}")
        # The harness (root) over the Unix socket; the nodes over the bridge,
        # with the application role's password.
        (data / "pg_hba.conf").write_text(
            f"local all all trust\nhost all all {self.topology.subnet} scram-sha-256\n"
        )

    def _create_database(self) -> None:
        password = self._ready_ctx().secrets.database_password
        with self.database("postgres") as connection:
            connection.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(DATABASE_USER), sql.Literal(password)
                )
            )
            connection.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(DATABASE_USER)
                )
            )

    def _start_vapid_keys(self) -> subprocess.Popen[str]:
        """One Web Push key pair for every node (docs/operations.md), made meanwhile."""
        ctx = self._ready_ctx()
        return subprocess.Popen(  # noqa: S603 (our python, fixed arguments)
            [str(PYTHON), "manage.py", "vapid_keys", "--new"],
            cwd=ctx.app,
            env=self._one_off_environment("node-a", "vapid"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def _finish_vapid_keys(self, process: subprocess.Popen[str]) -> None:
        output, _ = process.communicate(timeout=60)
        pairs = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        if process.returncode != 0 or "VAPID_PRIVATE_KEY" not in pairs:
            raise ClusterError(f"manage.py vapid_keys --new failed:\n{output[-3000:]}")
        keys = self._ready_ctx().secrets
        keys.vapid_private_key = pairs["VAPID_PRIVATE_KEY"]
        keys.vapid_public_key = pairs["VAPID_PUBLIC_KEY"]

    def _migrate(self) -> None:
        migrate = services.migrate_service(self._ready_ctx())
        self._start(migrate)
        assert migrate.process is not None
        try:
            code = migrate.process.wait(timeout=migrate.ready_seconds)
        except subprocess.TimeoutExpired:
            migrate.process.kill()
            raise self._failure(
                migrate, f"still running after {migrate.ready_seconds:.0f} s"
            ) from None
        if code != 0:
            raise self._failure(migrate, f"exited with code {code}")
        # A one-off: not a service of node-a to kill or restart.
        del self.services[migrate.key]

    def _wait_for_first_poll(self) -> None:
        """/healthz through lb answers 200 once a poll stored prices (the feed is fresh)."""
        url = f"{self.topology.lb_url}/healthz"
        deadline = time.monotonic() + FIRST_POLL_SECONDS
        while (problem := self.call("clients", probes.http, url)) is not None:
            if time.monotonic() > deadline:
                beat = self.service("beat")
                raise ClusterError(
                    f"lb ({self.address('lb')}): /healthz not 200 after "
                    f"{FIRST_POLL_SECONDS:.0f} s: {problem}\n"
                    f"--- last lines of {beat.log} ---\n{log_tail(beat.log)}\n"
                    f"--- last lines of node-a's worker ---\n"
                    f"{log_tail(self.service('node-a/worker').log)}"
                )
            time.sleep(0.5)


def _nginx() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main_down() -> int:
    removed = Cluster().down()
    print("\n".join(removed) if removed else "nothing to remove", file=sys.stderr)
    return 0
