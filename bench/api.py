"""REST API benchmark: 50 concurrent connections against the production server setup.

Runs the production HTTP stack of docker-compose.yml on its own database:
nginx with docker/nginx.conf in front of granian (WSGI, cryptomonitor.wsgi,
DEBUG=False, persistent database connections), then wrk (or httpx) in
another process keeps 50 connections busy for --seconds per endpoint:

- GET /api/v1/coins/   anonymous, 250 coins in the catalogue (a page of 50)
- GET /api/v1/alerts/  token auth, a user with 100 alerts (two pages of 50)

Reports throughput and p50/p99 latency (targets p50 <= 20 ms, p99 <= 100 ms).
The granian command is docker-compose.yml's own (--workers and --threads
replace its worker and blocking-thread counts). --direct loads the server
without nginx; --server gunicorn (sync workers, or gthread with --threads > 1)
and --server daphne (the ASGI server, which serves /ws/ in production) measure
the alternatives. The throttle rates are raised for the run: one client at
this rate would be throttled by design. The load generator, PostgreSQL and
Redis share the machine's CPUs with the server, so the figures are a lower
bound of what the server alone could do.

    .venv/bin/python bench/api.py [--seconds 30] [--connections 50]
        [--server granian|gunicorn|daphne] [--workers 2] [--threads N] [--direct]

Needs PostgreSQL, Redis and nginx (Debian's nginx-light, `make proxy`; --direct
without it): BENCH_API_DATABASE_URL (created and migrated when missing) and
BENCH_API_REDIS_URL. Prints a table and writes bench/results/api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.scratch_database import ensure_database  # noqa: E402
from cryptomonitor.testing.compose import compose_command  # noqa: E402
from cryptomonitor.testing.nginx import running_nginx  # noqa: E402

RESULTS = BASE_DIR / "bench" / "results" / "api.json"

DATABASE_URL = os.environ.get(
    "BENCH_API_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_bench_api"
)
REDIS_URL = os.environ.get("BENCH_API_REDIS_URL", "redis://127.0.0.1:6379/9")
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
    "DEBUG": "False",
    "SECRET_KEY": secrets.token_urlsafe(50),  # DEBUG=False needs a real one
    # Plain HTTP on loopback, as behind a TLS-terminating proxy: no redirect.
    "SECURE_SSL_REDIRECT": "False",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "LOG_LEVEL": "WARNING",
    "API_THROTTLE_ANON": "1000000000/min",
    "API_THROTTLE_USER": "1000000000/min",
}
COINS = 250
ALERTS = 100
TARGETS = {"p50_ms": 20.0, "p99_ms": 100.0}


def prepare_database() -> None:
    ensure_database(DATABASE_URL)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env={**os.environ, **SERVER_ENV},
        check=True,
    )


def seed() -> str:
    """250 coins, a user with 100 alerts on tracked coins; return their token's key."""
    os.environ.update(SERVER_ENV)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.models import ApiToken
    from alerts.models import Alert
    from prices.models import Coin

    now = timezone.now()
    Coin.objects.all().delete()
    coins = Coin.objects.bulk_create(
        Coin(
            coingecko_id=f"coin-{rank}",
            symbol=f"c{rank}",
            name=f"Coin {rank}",
            market_cap_rank=rank,
            is_tracked=rank <= 25,
            price=Decimal("1000") / rank,
            market_cap=Decimal(10**12) / rank,
            volume_24h=Decimal(10**10) / rank,
            change_24h_pct=Decimal("1.25"),
            price_updated_at=now,
            price_source="coingecko",
        )
        for rank in range(1, COINS + 1)
    )
    user_model = get_user_model()
    user_model.objects.filter(username="bench").delete()
    user = user_model.objects.create_user("bench", "bench@example.com", "bench-password")
    Alert.objects.bulk_create(
        Alert(
            user=user,
            coin=coins[i % 25],
            condition="above",
            target=Decimal(2000 + i),
            note=f"bench alert {i}",
        )
        for i in range(ALERTS)
    )
    return ApiToken.issue(user, "bench")[1]


def free_socket() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    return listener


def server_env(server: str) -> dict:
    # Under ASGI each request runs in a thread of its own (Django's
    # ThreadSensitiveContext): persistent connections would pile up, one per
    # request thread, until PostgreSQL refuses clients. Daphne needs 0; a WSGI
    # worker keeps one connection per worker thread, as production does.
    return {**os.environ, **SERVER_ENV, "DB_CONN_MAX_AGE": "0" if server == "daphne" else "60"}


def server_commands(server: str, fd: int, port: int, workers: int, threads: int) -> list[list[str]]:
    """The command lines of `server`, accepting on the inherited socket `fd` (or `port`)."""
    bin_dir = Path(sys.executable).parent
    if server == "daphne":
        # One process per worker; they share the socket (the kernel spreads the load).
        command = [str(bin_dir / "daphne"), "--fd", str(fd), "cryptomonitor.asgi:application"]
        return [command] * workers
    if server == "granian":
        # docker-compose.yml's web command itself, with this run's workers and threads.
        command = compose_command("web", "8000", port)
        command[0] = str(bin_dir / command[0])
        for option, value in (("--workers", workers), ("--blocking-threads", threads)):
            command[command.index(option) + 1] = str(value)
        return [[*command[:-1], "--log-level", "warning", command[-1]]]
    # gunicorn, measured against granian: sync workers, or gthread with --threads.
    return [
        [
            str(bin_dir / "gunicorn"), "--bind", f"fd://{fd}", "--workers", str(workers),
            "--threads", str(threads), "--worker-class", "gthread" if threads > 1 else "sync",
            "--backlog", "2048", "cryptomonitor.wsgi:application",
        ]
    ]  # fmt: skip


def compose_threads() -> int:
    """The blocking threads per worker docker-compose.yml's web runs granian with."""
    command = compose_command("web", "8000", 8000)
    return int(command[command.index("--blocking-threads") + 1])


def start_servers(
    listener: socket.socket, server: str, workers: int, threads: int, log
) -> list[subprocess.Popen]:
    fd = listener.fileno()
    os.set_inheritable(fd, True)
    port = listener.getsockname()[1]
    commands = server_commands(server, fd, port, workers, threads)
    if server == "granian":
        # granian binds its own socket: hand it the port, not the file.
        listener.close()
    return [
        subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=server_env(server),
            pass_fds=[] if server == "granian" else [fd],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for command in commands
    ]


def stop_servers(servers: list[subprocess.Popen]) -> None:
    for server in servers:
        server.terminate()
    for server in servers:
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_up(url: str, headers: dict, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer {url} within {timeout:.0f} s")


async def generate_load(url: str, headers: dict, connections: int, seconds: float) -> dict:
    """Keep `connections` requests in flight for `seconds`; every answer must be a 200."""
    import httpx

    latencies: list[float] = []
    failures: dict[str, int] = {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                    await response.aread()
                    outcome = str(response.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                if outcome == "200":
                    latencies.append(time.perf_counter() - started)
                else:
                    failures[outcome] = failures.get(outcome, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "failures": failures, "elapsed": elapsed}


def load_with_httpx(url: str, headers: dict, connections: int, seconds: float) -> dict:
    """Run generate_load() in a child process, so it does not share our GIL."""
    command = [
        sys.executable,
        __file__,
        "--load",
        json.dumps(
            {"url": url, "headers": headers, "connections": connections, "seconds": seconds}
        ),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    run = json.loads(output)
    latencies = sorted(run["latencies"])
    if not latencies:
        raise SystemExit(f"{url}: no successful request ({run['failures']})")
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": len(latencies),
        "seconds": run["elapsed"],
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "max_ms": latencies[-1] * 1000,
        "errors": run["failures"],
    }


WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * WRK_UNITS[match.group(2)]


def load_with_wrk(url: str, headers: dict, connections: int, seconds: float) -> dict:
    """wrk (C, 2 threads): leaves more of a small machine's CPU to the server."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    # A long timeout: wrk would otherwise count answers slower than 2 s as errors
    # and cap the latencies it reports there.
    command += ["--timeout", "30s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    max_ms = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    errors = {}
    if non_2xx:
        errors["non-2xx"] = int(non_2xx.group(1))
    if socket_errors:
        errors["socket"] = socket_errors.group(1)
    failed = int(non_2xx.group(1)) if non_2xx else 0
    return {
        "requests": int(total.group(1)) - failed,
        "seconds": wrk_ms(total.group(2) + total.group(3)) / 1000,
        "p50_ms": wrk_ms(latency["50"]),
        "p99_ms": wrk_ms(latency["99"]),
        "max_ms": wrk_ms(max_ms.group(1)),
        "errors": errors,
    }


def summarise(name: str, run: dict, connections: int) -> dict:
    return {
        "endpoint": name,
        "connections": connections,
        "seconds": round(run["seconds"], 1),
        "requests": run["requests"],
        "errors": run["errors"],
        "throughput_rps": round(run["requests"] / run["seconds"], 1),
        "p50_ms": round(run["p50_ms"], 2),
        "p99_ms": round(run["p99_ms"], 2),
        "max_ms": round(run["max_ms"], 2),
        "meets_p50_target": run["p50_ms"] <= TARGETS["p50_ms"],
        "meets_p99_target": run["p99_ms"] <= TARGETS["p99_ms"],
    }


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'endpoint':<22}{'conns':>6}{'requests':>10}{'req/s':>9}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}  targets p50/p99"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        verdict = "/".join(
            "ok" if row[key] else "MISSED" for key in ("meets_p50_target", "meets_p99_target")
        )
        print(
            f"{row['endpoint']:<22}{row['connections']:>6}{row['requests']:>10}"
            f"{row['throughput_rps']:>9.0f}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
            f"{row['max_ms']:>9.1f}{len(row['errors']) and 'yes' or 'none':>8}  {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--server", choices=["granian", "gunicorn", "daphne"], default="granian")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads per WSGI worker (default: granian as compose runs it, gunicorn 1)",
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="load the server directly, not through nginx with docker/nginx.conf",
    )
    parser.add_argument(
        "--generator",
        choices=["wrk", "httpx"],
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator (default: wrk when installed, e.g. apt-get install wrk)",
    )
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        job = json.loads(args.load)
        print(json.dumps(asyncio.run(generate_load(**job))))
        return
    if args.threads is None:
        args.threads = compose_threads() if args.server == "granian" else 1

    load_before = os.getloadavg()
    prepare_database()
    key = seed()
    listener = free_socket()
    server_address = f"127.0.0.1:{listener.getsockname()[1]}"
    # bench/results/ is not in a fresh clone (gitignored): the server log goes there too.
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    log = open(RESULTS.with_suffix(".server.log"), "w")  # noqa: SIM115 (closed below)
    servers = start_servers(listener, args.server, args.workers, args.threads, log)
    auth = {"Authorization": f"Token {key}"}
    endpoints = [
        ("GET /api/v1/coins/", "/api/v1/coins/", {}),
        ("GET /api/v1/alerts/", "/api/v1/alerts/", auth),
    ]
    generate = load_with_wrk if args.generator == "wrk" else load_with_httpx
    rows = []
    try:
        with contextlib.ExitStack() as stack:
            base = f"http://{server_address}"
            if not args.direct:
                workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nginx-")))
                # The WebSocket upstream is never used here (no daphne runs).
                port = stack.enter_context(running_nginx(server_address, "127.0.0.1:9", workdir))
                base = f"http://127.0.0.1:{port}"
            for _, path, headers in endpoints:
                wait_until_up(base + path, headers)
            for name, path, headers in endpoints:
                # A short warm-up: connection pools, the first queries' plans.
                generate(base + path, headers, args.connections, 2.0)
                run = generate(base + path, headers, args.connections, args.seconds)
                rows.append(summarise(name, run, args.connections))
    finally:
        stop_servers(servers)
        listener.close()
        log.close()
    print_table(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "api",
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "server": (
                    f"{args.server} x{args.workers} (threads {args.threads}), DEBUG=False, "
                    + ("direct" if args.direct else "behind nginx (docker/nginx.conf)")
                ),
                "load_generator": f"{args.generator} in a separate process, same machine",
                "load_average_before": load_before,
                "cpus": os.cpu_count(),
                "coins": COINS,
                "alerts": ALERTS,
                "targets": TARGETS,
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {RESULTS.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    main()
