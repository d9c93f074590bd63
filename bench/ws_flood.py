"""WebSocket abuse benchmark: what flooding and non-reading sockets cost one daphne.

Ten anonymous sockets sending `{"type": "ping", "pad": "x" * 3400}`
in a loop for 10 s through nginx grew one daphne from 110 MiB to 1,736 MiB,
never released. Each scenario starts one daphne (production settings, DEBUG
off) on its own database, 250 tracked coins seeded, and measures the growth
of its resident memory (psutil, sampled every 0.2 s: the peak counts) while
a newcomer connects once a second and times its snapshot:

- ping:      10 sockets flood padded pings for --seconds, never reading, and
             reconnect whenever they are closed (prices/tests/socket_flood.py).
- subscribe: the same with 4 KiB `subscribe` frames; also counts the
             database's transactions (pg_stat_database), which were ~4,000.
- nonreader: 10 sockets that never read while 250-coin batches are published
             at 50 a second (about 1 MB/s to each).
- ping via nginx: the ping flood through docker/nginx.conf, all flooders on
             one address and the newcomers on another (skipped without nginx).
- control:   10 raw sockets send WebSocket ping frames (125-byte payload) as
             fast as TCP takes them and never read the pongs; they reconnect
             whenever they are dropped. Pings are no message: this grew a
             daphne by ~150 MiB in 15 s from 4 sockets when only whole
             messages were counted.
- fragments: the same with a text frame that never ends, followed by empty
             continuation frames (the message stays 0 bytes long).

Target: each grows the daphne by <= 50 MiB, and every newcomer's snapshot
arrives within 1 s.

    .venv/bin/python bench/ws_flood.py [--seconds 10] [--scenarios ping,subscribe,...]

Needs PostgreSQL and Redis: BENCH_WS_DATABASE_URL (created and migrated when
missing) and BENCH_WS_REDIS_URL. Prints a table and writes
bench/results/ws_flood.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.scratch_database import ensure_database  # noqa: E402
from prices.tests.socket_flood import (  # noqa: E402
    CONTINUATION,
    MIB,
    PING,
    PING_FRAME,
    SUBSCRIBE_FRAME,
    TEXT,
    client_frame,
    flood,
    open_without_reading,
    send_until_dropped,
    snapshot_seconds,
)
from tests_support.live_server import running_daphne  # noqa: E402
from tests_support.nginx import nginx_binary, running_nginx  # noqa: E402

RESULTS = BASE_DIR / "bench" / "results" / "ws_flood.json"
SOCKETS = 10
TARGET_GROWTH_MIB = 50.0
TARGET_SNAPSHOT_SECONDS = 1.0
NONREADER_BATCHES_PER_SECOND = 50
SCENARIOS = ("ping", "subscribe", "nonreader", "ping-nginx", "control", "fragments")
# What the raw flooders send: an opening (once a connection), then one frame over and over.
RAW_FLOODS = {
    "control": (b"", client_frame(PING, b"x" * 125)),
    "fragments": (client_frame(TEXT, b"", fin=False), client_frame(CONTINUATION, b"", fin=False)),
}


def bench_env() -> dict[str, str]:
    """Production-like settings for daphne: DEBUG off, the bench database and Redis."""
    return {
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": os.environ.get(
            "BENCH_WS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_bench_ws_flood"
        ),
        "REDIS_URL": os.environ.get("BENCH_WS_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "LOG_LEVEL": "INFO",
    }


def prepare_database(env: dict[str, str]) -> None:
    ensure_database(env["DATABASE_URL"])
    child_env = {**os.environ, **env}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=child_env,
        check=True,
    )
    # bench/fanout.py's 250 tracked coins, as a real deployment has.
    subprocess.run(
        [sys.executable, "bench/fanout.py", "seed"], cwd=BASE_DIR, env=child_env, check=True
    )


def transactions(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = "
            "current_database()"
        ).fetchone()
    return int(row[0])


def publish(seconds: float, per_second: int) -> None:
    """Send `prices.update` batches of the tracked coins (a child process, like the poller)."""
    import django

    django.setup()
    from channels.layers import get_channel_layer

    from prices.models import Coin

    coins = [coin.snapshot() for coin in Coin.objects.filter(is_tracked=True)]
    layer = get_channel_layer()

    async def run() -> None:
        start = time.monotonic()
        for index in range(int(seconds * per_second)):
            await asyncio.sleep(max(0.0, start + index / per_second - time.monotonic()))
            stamp = datetime.now(UTC).isoformat()
            await layer.group_send(
                "prices", {"type": "prices.update", "coins": coins, "polled_at": stamp}
            )

    asyncio.run(run())


def flood_row(name: str, server, seconds: float, env: dict[str, str], via_nginx: bool) -> dict:
    frame = SUBSCRIBE_FRAME if name == "subscribe" else PING_FRAME
    before = transactions(env["DATABASE_URL"])
    if via_nginx:
        with (
            tempfile.TemporaryDirectory() as workdir,
            running_nginx("127.0.0.1:9", f"127.0.0.1:{server.port}", Path(workdir)) as port,
        ):
            url, origin = f"ws://127.0.0.1:{port}/ws/prices/", f"http://127.0.0.1:{port}"
            report = asyncio.run(
                flood(url, origin, server.pid, seconds=seconds, newcomer_address="127.0.0.2")
            )
    else:
        url, origin = f"{server.ws_url}/ws/prices/", f"http://127.0.0.1:{server.port}"
        report = asyncio.run(flood(url, origin, server.pid, seconds=seconds, frame=frame))
    return {
        "frames_sent": report.frames_sent,
        "connections": report.connections,
        "closes": {str(code): count for code, count in report.closes.items()},
        "rss_before_mib": round(report.rss_before_mib, 1),
        "rss_peak_mib": round(report.rss_peak_mib, 1),
        "rss_after_mib": round(report.rss_after_mib, 1),
        "growth_mib": round(report.growth_mib, 1),
        "snapshot_s_p50": round(statistics.median(report.snapshot_seconds), 3),
        "snapshot_s_max": round(report.slowest_snapshot_seconds, 3),
        "newcomers": len(report.snapshot_seconds),
        "db_transactions": transactions(env["DATABASE_URL"]) - before,
    }


def nonreader_row(server, seconds: float, env: dict[str, str]) -> dict:
    import psutil

    process = psutil.Process(server.pid)
    url, origin = f"{server.ws_url}/ws/prices/", f"http://127.0.0.1:{server.port}"
    asyncio.run(snapshot_seconds(url, origin))
    before = process.memory_info().rss / MIB
    sockets = [open_without_reading(server.port) for _ in range(SOCKETS)]
    publisher = subprocess.Popen(  # noqa: S603 (our own argv)
        [sys.executable, __file__, "publish", "--seconds", str(seconds)],
        cwd=BASE_DIR,
        env={**os.environ, **env},
    )
    peak, latencies = before, []
    while publisher.poll() is None:
        latencies.append(asyncio.run(snapshot_seconds(url, origin)))
        peak = max(peak, process.memory_info().rss / MIB)
        time.sleep(0.2)
    after = process.memory_info().rss / MIB
    dropped = sum(_dropped(raw) for raw in sockets)
    for raw in sockets:
        raw.close()
    return {
        "batches_published": int(seconds * NONREADER_BATCHES_PER_SECOND),
        "connections": SOCKETS,
        "closes": {"dropped": dropped},
        **memory_and_newcomers(before, peak, after, latencies),
    }


def memory_and_newcomers(before: float, peak: float, after: float, latencies: list[float]) -> dict:
    """The row's RSS figures (MiB) and newcomers' snapshot times (s)."""
    return {
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(max(peak, after), 1),
        "rss_after_mib": round(after, 1),
        "growth_mib": round(max(peak, after) - before, 1),
        "snapshot_s_p50": round(statistics.median(latencies), 3),
        "snapshot_s_max": round(max(latencies), 3),
        "newcomers": len(latencies),
    }


def raw_flood_row(name: str, server, seconds: float) -> dict:
    """SOCKETS raw sockets send RAW_FLOODS[name] for `seconds`, never reading, reconnecting."""
    import psutil

    opening, frame = RAW_FLOODS[name]
    batch = frame * (8192 // len(frame))
    process = psutil.Process(server.pid)
    url, origin = f"{server.ws_url}/ws/prices/", f"http://127.0.0.1:{server.port}"
    asyncio.run(snapshot_seconds(url, origin))
    before = process.memory_info().rss / MIB
    until = time.monotonic() + seconds
    tally = {"frames_sent": 0, "connections": 0, "dropped": 0, "open at the end": 0}
    lock = threading.Lock()

    def flooder() -> None:
        while time.monotonic() < until:
            raw = open_without_reading(server.port)
            raw.sendall(opening)
            dropped, sent = send_until_dropped(raw, batch, until - time.monotonic())
            raw.close()
            with lock:
                tally["connections"] += 1
                tally["frames_sent"] += sent // len(frame)
                tally["dropped" if dropped else "open at the end"] += 1

    threads = [threading.Thread(target=flooder) for _ in range(SOCKETS)]
    for thread in threads:
        thread.start()
    peak, latencies = before, []
    while time.monotonic() < until:
        latencies.append(asyncio.run(snapshot_seconds(url, origin)))
        peak = max(peak, process.memory_info().rss / MIB)
        time.sleep(max(0.0, 1.0 - latencies[-1]))
    for thread in threads:
        thread.join()
    after = process.memory_info().rss / MIB
    return {
        "frames_sent": tally["frames_sent"],
        "connections": tally["connections"],
        "closes": {key: tally[key] for key in ("dropped", "open at the end") if tally[key]},
        **memory_and_newcomers(before, peak, after, latencies),
    }


def _dropped(raw: socket.socket) -> bool:
    """Whether the server has ended this never-read connection (reads what is left)."""
    raw.settimeout(0.2)
    try:
        while raw.recv(1 << 20):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def run_scenario(name: str, seconds: float, env: dict[str, str]) -> dict:
    with running_daphne(env, access_log=False) as server:
        time.sleep(1.0)
        if name == "nonreader":
            row = nonreader_row(server, seconds, env)
        elif name in RAW_FLOODS:
            row = raw_flood_row(name, server, seconds)
        else:
            row = flood_row(name, server, seconds, env, via_nginx=name == "ping-nginx")
    return {
        "scenario": name,
        "sockets": SOCKETS,
        "seconds": seconds,
        **row,
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def meets_targets(row: dict) -> bool:
    return (
        row["growth_mib"] <= TARGET_GROWTH_MIB and row["snapshot_s_max"] <= TARGET_SNAPSHOT_SECONDS
    )


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'scenario':<12}{'frames':>9}{'conns':>7}{'RSS MiB':>9}{'peak':>8}{'growth':>8}"
        f"{'snap p50 s':>11}{'snap max s':>11}{'db xacts':>9}  closes / ok"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        closes = ",".join(f"{code}x{count}" for code, count in row["closes"].items()) or "-"
        print(
            f"{row['scenario']:<12}{row.get('frames_sent', row.get('batches_published', 0)):>9}"
            f"{row['connections']:>7}{row['rss_before_mib']:>9}{row['rss_peak_mib']:>8}"
            f"{row['growth_mib']:>8}{row['snapshot_s_p50']:>11}{row['snapshot_s_max']:>11}"
            f"{row.get('db_transactions', '-'):>9}  {closes} / "
            f"{'yes' if meets_targets(row) else 'NO'}"
        )
    print(
        f"{SOCKETS} sockets each; frames: sent by the flooders (nonreader: batches published); "
        "growth: daphne's peak RSS over its RSS before; snap: a newcomer's connect-to-snapshot "
        f"time; closes: close codes the flooders got; targets <= {TARGET_GROWTH_MIB:.0f} MiB, "
        f"<= {TARGET_SNAPSHOT_SECONDS:.0f} s"
    )


def write_results(rows: list[dict]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "ws_flood",
                "run_at": datetime.now(UTC).isoformat(),
                "cpus": os.cpu_count(),
                "targets": {
                    "growth_mib": TARGET_GROWTH_MIB,
                    "snapshot_seconds": TARGET_SNAPSHOT_SECONDS,
                },
                "scenarios": rows,
            },
            indent=2,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "publish"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    if args.command == "publish":
        return publish(args.seconds, NONREADER_BATCHES_PER_SECOND)
    env = bench_env()
    prepare_database(env)
    rows = []
    for name in args.scenarios.split(","):
        if name == "ping-nginx" and nginx_binary() is None:
            print("skipped ping-nginx: nginx is not installed (make proxy)")
            continue
        print(f"... {name}", flush=True)
        rows.append(run_scenario(name, args.seconds, env))
        print(json.dumps(rows[-1]), flush=True)
    write_results(rows)
    print_table(rows)
    print(f"wrote {RESULTS.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    main()
