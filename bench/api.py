"""REST API benchmark: 200 token users doing what API clients do, 50 connections through nginx.

Runs the production HTTP stack of docker-compose.yml on its own database:
nginx with docker/nginx.conf in front of granian (WSGI, cryptomonitor.wsgi,
DEBUG=False, persistent database connections), then wrk with
bench/api_mixed.lua keeps --connections connections busy for --seconds. 250
coins; 200 users, each with their own token and 50 alerts (10 of them with 5
events). Every request is one user's next step, weighted: list the coins
(25 %), a page of their alerts (35 %; each user's pages hold 25, 50 or 100,
the first page three times in four), an alert (18 %), its events (12 %),
create an alert (4 %), pause or resume one (6 %). A list the client has seen
is asked again with If-None-Match, as an HTTP client with a cache would.

Reports throughput, p50/p99 latency overall and per kind, and the 304
answers' p50. Each connection sends its next request when it has the answer
(the server's capacity; latencies are then mostly queueing: 50 /
throughput), or with --rate N at N requests a second in all (the latencies
of that load). Targets: >= 1,000 req/s, p99 <= 100 ms, 304 p50 <= 5 ms. The
granian command is docker-compose.yml's own (--workers and --threads replace
its worker and blocking-thread counts); --direct loads the server without
nginx; --server gunicorn (sync workers, or gthread with --threads > 1) and
--server daphne measure the alternatives. The throttle rates are raised for
the run. The load generator, PostgreSQL and Redis share the machine's CPUs
with the server, so the figures are a lower bound of what the server alone
could do.

    .venv/bin/python bench/api.py [--seconds 30] [--connections 50] [--rate N]
        [--server granian|gunicorn|daphne] [--workers 2] [--threads N] [--direct]

Needs PostgreSQL, Redis, nginx (Debian's nginx-light) and wrk (`make proxy`
installs both): BENCH_API_DATABASE_URL (created and migrated when missing)
and BENCH_API_REDIS_URL. Prints a table and writes bench/results/api.json.
"""

from __future__ import annotations

import argparse
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

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.multiprocess_metrics import use_scratch_metrics_dir  # noqa: E402

use_scratch_metrics_dir()  # as production runs: multiprocess metrics

from bench.scratch_database import ensure_database  # noqa: E402
from tests_support.compose import compose_command  # noqa: E402
from tests_support.nginx import running_nginx  # noqa: E402

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
TRACKED = 25  # coin-1 .. coin-25: the users' alerts, and those bench/api_mixed.lua creates
USERS = 200
ALERTS_PER_USER = 50
EVENTS = (10, 5)  # per user: alerts with events, events of each
LUA_SCRIPT = BASE_DIR / "bench" / "api_mixed.lua"
TARGETS = {"throughput_rps": 1000.0, "p99_ms": 100.0, "not_modified_p50_ms": 5.0}
# The single-URL runs this workload replaced (2026-11-21, bench/README.md):
# one request repeated, answered by the retired ApiFront after the first.
PREVIOUS_SINGLE_URL = {
    "measured_at": "2026-11-21",
    "setup": "granian x2 (4 blocking threads) behind nginx, with ApiFront",
    "coins": {"throughput_rps": 3273, "p50_ms": 14.9, "p99_ms": 34},
    "alerts": {"throughput_rps": 2539, "p50_ms": 19.2, "p99_ms": 43},
}


def prepare_database() -> None:
    ensure_database(DATABASE_URL)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env={**os.environ, **SERVER_ENV},
        check=True,
    )


def seed() -> list[dict]:
    """250 coins; 200 users with a token and 50 alerts each; return each user's key and alerts."""
    os.environ.update(SERVER_ENV)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.models import ApiToken
    from alerts.models import Alert, AlertEvent
    from prices.models import Coin

    now = timezone.now()
    Coin.objects.all().delete()
    coins = Coin.objects.bulk_create(
        Coin(
            coingecko_id=f"coin-{rank}",
            symbol=f"c{rank}",
            name=f"Coin {rank}",
            market_cap_rank=rank,
            is_tracked=rank <= TRACKED,
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
    user_model.objects.filter(username__startswith="bench-").delete()
    # No password (no hashing 200 times): they use tokens only.
    users = user_model.objects.bulk_create(
        user_model(username=f"bench-{i}", email=f"bench-{i}@example.com", password="!")
        for i in range(USERS)
    )
    keys = [secrets.token_urlsafe(32) for _ in users]
    ApiToken.objects.bulk_create(
        ApiToken(user=user, name="bench", prefix=key[:8], key_hash=ApiToken.hash_key(key))
        for user, key in zip(users, keys, strict=True)
    )
    alerts = Alert.objects.bulk_create(
        Alert(
            user=user,
            coin=coins[i % TRACKED],
            condition="above",
            target=Decimal(2000 + i),
            note=f"bench alert {i}",
        )
        for user in users
        for i in range(ALERTS_PER_USER)
    )
    with_events, per_alert = EVENTS
    AlertEvent.objects.bulk_create(
        AlertEvent(
            alert=alert,
            coin_id=alert.coin_id,
            price=alert.target + n,
            reason=f"price is at or above {alert.target}",
            triggered_at=now,
        )
        for index, alert in enumerate(alerts)
        if index % ALERTS_PER_USER < with_events
        for n in range(per_alert)
    )
    return [
        {"token": key, "alerts": [alert.pk for alert in alerts if alert.user_id == user.pk]}
        for user, key in zip(users, keys, strict=True)
    ]


def write_users(users: list[dict], path: Path) -> None:
    """The users as a Lua file returning them, for bench/api_mixed.lua."""
    rows = [
        f'{{token = "{user["token"]}", alerts = {{{", ".join(map(str, user["alerts"]))}}}}},'
        for user in users
    ]
    path.write_text("return {\n" + "\n".join(rows) + "\n}\n")


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


def run_wrk(
    base: str, users_file: Path, latencies: Path, connections: int, seconds: float, rate: int
):
    """wrk with bench/api_mixed.lua, one connection per thread; answers written to `latencies`."""
    command = [
        "wrk", f"-t{connections}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        # A long timeout: wrk would otherwise count answers slower than 2 s as errors.
        "--timeout", "30s", "-s", str(LUA_SCRIPT), base, "--", str(connections),
    ]  # fmt: skip
    env = {
        **os.environ,
        "BENCH_API_USERS": str(users_file),
        "BENCH_API_LATENCIES": str(latencies),
        "BENCH_API_RATE": str(rate),
    }
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    elapsed = re.search(r"requests in ([\d.]+)(us|ms|s|m)", output)
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[elapsed.group(2)]
    errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return float(elapsed.group(1)) * unit, errors.group(1) if errors else None


def server_cpu_seconds(servers: list[subprocess.Popen]) -> float:
    """CPU time (user + system) of the server processes and their workers so far."""
    total = 0.0
    for server in servers:
        process = psutil.Process(server.pid)
        for each in [process, *process.children(recursive=True)]:
            times = each.cpu_times()
            total += times.user + times.system
    return total


def quantiles(values: list[float]) -> dict:
    if len(values) < 2:
        return {"p50_ms": None, "p99_ms": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49], 2), "p99_ms": round(cuts[98], 2)}


def summarise(latencies: Path, seconds: float, socket_errors: str | None) -> dict:
    """Throughput and latencies overall, per kind and for 304 answers, from wrk's lines."""
    answers = [line.split() for line in latencies.read_text().splitlines()]
    everything = [float(ms) for _, _, ms in answers]
    statuses: dict[str, int] = {}
    for _, status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    kinds = {}
    for kind in sorted({kind for kind, _, _ in answers}):
        times = [float(ms) for k, _, ms in answers if k == kind]
        kinds[kind] = {"requests": len(times), **quantiles(times)}
    not_modified = [float(ms) for _, status, ms in answers if status == "304"]
    overall = {
        "requests": len(answers),
        "seconds": round(seconds, 1),
        "throughput_rps": round(len(answers) / seconds, 1),
        **quantiles(everything),
        "max_ms": round(max(everything), 2),
    }
    return {
        "overall": overall,
        "not_modified": {"requests": len(not_modified), **quantiles(not_modified)},
        "by_kind": kinds,
        "statuses": statuses,
        "socket_errors": socket_errors,
        "meets_targets": {
            "throughput": overall["throughput_rps"] >= TARGETS["throughput_rps"],
            "p99": overall["p99_ms"] <= TARGETS["p99_ms"],
            "not_modified_p50": bool(not_modified)
            and quantiles(not_modified)["p50_ms"] <= TARGETS["not_modified_p50_ms"],
        },
    }


def print_table(result: dict) -> None:
    header = f"{'':<14}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    overall = result["overall"]
    rows = [("all", {**overall})]
    rows += [(kind, row) for kind, row in result["by_kind"].items()]
    rows.append(("304 answers", result["not_modified"]))
    for name, row in rows:
        rate = f"{row['throughput_rps']:>9.0f}" if "throughput_rps" in row else " " * 9
        p50 = "-" if row["p50_ms"] is None else f"{row['p50_ms']:.1f}"
        p99 = "-" if row["p99_ms"] is None else f"{row['p99_ms']:.1f}"
        print(f"{name:<14}{row['requests']:>10}{rate}{p50:>9}{p99:>9}")
    print(f"\napp server CPU per request: {result['server_cpu_ms_per_request']} ms")
    errors = result["socket_errors"] or "none"
    print(f"\nstatuses: {result['statuses']}; socket errors: {errors}")
    met = result["meets_targets"]
    verdict = ", ".join(f"{name} {'ok' if ok else 'MISSED'}" for name, ok in met.items())
    print(f"targets (>= 1,000 req/s, p99 <= 100 ms, 304 p50 <= 5 ms): {verdict}")
    before = PREVIOUS_SINGLE_URL
    coins, alerts = before["coins"], before["alerts"]
    print(
        f"before, one URL repeated ({before['measured_at']}, {before['setup']}): coins "
        f"{coins['throughput_rps']:,} req/s p50 {coins['p50_ms']} ms, "
        f"alerts {alerts['throughput_rps']:,} req/s p50 {alerts['p50_ms']} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--server", choices=["granian", "gunicorn", "daphne"], default="granian")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--rate",
        type=int,
        default=0,
        help="requests a second offered in all (default 0: as many as the server answers)",
    )
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
    args = parser.parse_args()
    if args.threads is None:
        args.threads = compose_threads() if args.server == "granian" else 1
    if shutil.which("wrk") is None:
        raise SystemExit("bench/api.py needs wrk: make proxy (or apt-get install wrk)")

    load_before = os.getloadavg()
    prepare_database()
    users = seed()
    listener = free_socket()
    server_address = f"127.0.0.1:{listener.getsockname()[1]}"
    # bench/results/ is not in a fresh clone (gitignored): the server log goes there too.
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    log = open(RESULTS.with_suffix(".server.log"), "w")  # noqa: SIM115 (closed below)
    servers = start_servers(listener, args.server, args.workers, args.threads, log)
    try:
        with contextlib.ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
            users_file, latencies = workdir / "users.lua", workdir / "latencies.txt"
            write_users(users, users_file)
            base = f"http://{server_address}"
            if not args.direct:
                # The WebSocket upstream is never used here (no daphne runs).
                port = stack.enter_context(running_nginx(server_address, "127.0.0.1:9", workdir))
                base = f"http://127.0.0.1:{port}"
            wait_until_up(base + "/api/v1/alerts/", {"Authorization": f"Token {users[0]['token']}"})
            # A short warm-up: connection pools, the first queries' plans.
            run_wrk(base, users_file, latencies, args.connections, 3.0, args.rate)
            cpu_before = server_cpu_seconds(servers)
            seconds, socket_errors = run_wrk(
                base, users_file, latencies, args.connections, args.seconds, args.rate
            )
            server_cpu = server_cpu_seconds(servers) - cpu_before
            result = summarise(latencies, seconds, socket_errors)
            # The app server's own CPU per answer: what a busy machine changes least.
            result["server_cpu_ms_per_request"] = round(
                server_cpu * 1000 / max(1, result["overall"]["requests"]), 2
            )
    finally:
        stop_servers(servers)
        listener.close()
        log.close()
    print_table(result)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "api",
                "workload": "mixed: 200 token users (bench/api_mixed.lua)",
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "server": (
                    f"{args.server} x{args.workers} (threads {args.threads}), DEBUG=False, "
                    + ("direct" if args.direct else "behind nginx (docker/nginx.conf)")
                ),
                "load_generator": f"wrk -t{args.connections} -c{args.connections}, same machine",
                "offered_rate": args.rate or "as fast as answered",
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
                "cpus": os.cpu_count(),
                "coins": COINS,
                "users": USERS,
                "alerts_per_user": ALERTS_PER_USER,
                "targets": TARGETS,
                "result": result,
                "previous_single_url": PREVIOUS_SINGLE_URL,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {RESULTS.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    main()
