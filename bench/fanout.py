"""Fan-out benchmark: N WebSocket clients on daphne, one poll's batch per second.

For every scenario (channel layer x daphne processes x clients) this starts the
daphne process(es) on free ports, connects the clients from separate
processes (asyncio + websockets, spread over the daphne ports), measures the
server's memory per idle connection, then a publisher process sends one
`prices.update` batch per second through the channel layer (stamped with
`polled_at` just before group_send, as the poll task does after its commit):
ten times the real rate (a poll every PRICE_POLL_SECONDS, 10 s).

What a batch holds (bench/README.md#fanout): prices.ingest broadcasts only the
coins whose CoinGecko `last_updated` moved since the last poll. CoinGecko
documents /coins/markets as updated every 45 s, so each of the 250 coins is
re-priced once per REFRESH_SECONDS at a phase of its own, and a 10 s poll
carries the ~10/45 of them re-priced in its window (55 or 56 coins). Each
re-priced coin takes the close of the real March 2023 BTC/USD minute it falls
in (prices/tests/data), from a start minute of its own and scaled to its price
level; 99.5 % of those minute closes differ from the minute before, so a
re-priced coin has a new price. `--full-batches` sends every coin in every
batch instead (the worst case: a whole page re-priced at once).

Each client receives every frame whole and records publish-to-receive latency
and which batches it got; it reads the stamp, which leads the `prices`
message, without parsing the coins after it.

    .venv/bin/python bench/fanout.py            # full matrix, several minutes
    .venv/bin/python bench/fanout.py --quick    # 200 clients, 10 s, both layers

Needs PostgreSQL and Redis: BENCH_DATABASE_URL (created and migrated when
missing; 250 tracked coins are seeded) and BENCH_REDIS_URL (its channel-layer
keys are deleted between scenarios, nothing else). Prints a table and writes
bench/results/fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.multiprocess_metrics import use_scratch_metrics_dir  # noqa: E402

use_scratch_metrics_dir()  # as production runs: multiprocess metrics

from bench.scratch_database import ensure_database  # noqa: E402
from prices.tests.market_data import candle_rows  # noqa: E402
from tests_support.live_server import running_daphne  # noqa: E402

RESULTS = BASE_DIR / "bench" / "results" / "fanout.json"
LAYERS = {
    "RedisChannelLayer": "channels_redis.core.RedisChannelLayer",
    "RedisPubSubChannelLayer": "channels_redis.pubsub.RedisPubSubChannelLayer",
    # The pub/sub layer decoding each broadcast once per process (our lever).
    "SharedDecodePubSub": "common.channel_layers.SharedDecodePubSubChannelLayer",
}
COINS = 250
# A poll's window (PRICE_POLL_SECONDS' default) and CoinGecko's documented
# update frequency of /coins/markets: what share of the coins one poll moves.
POLL_SECONDS = 10.0
REFRESH_SECONDS = 45.0
CLIENT_PROCESSES = 4
CONNECTS_IN_FLIGHT = 50  # per client process; daphne's accept backlog is finite
DRAIN_SECONDS = 15.0
TARGETS = {1000: 150.0, 5000: 350.0, 10000: 850.0}  # p99 ms by client count
TARGET_KIB_PER_CONNECTION = 40.0


def bench_env(layer: str) -> dict[str, str]:
    """Production-like settings for every child: DEBUG off, the bench db and Redis."""
    return {
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),  # DEBUG=False needs a real one
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_bench_fanout"
        ),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "CHANNEL_LAYER_BACKEND": LAYERS[layer],
        "LOG_LEVEL": "INFO",
    }


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- Database and Redis preparation ------------------------------------------------


def prepare_database(env: dict[str, str]) -> None:
    ensure_database(env["DATABASE_URL"])
    manage = [sys.executable, "manage.py"]
    child_env = {**os.environ, **env}
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=child_env, check=True
    )
    subprocess.run([sys.executable, __file__, "seed"], cwd=BASE_DIR, env=child_env, check=True)


def seed_coins() -> None:
    """250 tracked coins with a price, as a real deployment would have."""
    import django

    django.setup()
    from prices.models import Coin, PriceSource

    now = datetime.now(UTC)
    Coin.objects.filter(is_tracked=True).exclude(coingecko_id__startswith="bench-").update(
        is_tracked=False
    )
    for rank in range(1, COINS + 1):
        Coin.objects.update_or_create(
            coingecko_id=f"bench-coin-{rank:03d}",
            defaults={
                "symbol": f"b{rank:03d}",
                "name": f"Bench Coin {rank}",
                "market_cap_rank": rank,
                "is_tracked": True,
                "price": Decimal("23000") / rank,
                "market_cap": Decimal("450000000000") / rank,
                "volume_24h": Decimal("12000000000") / rank,
                "change_24h_pct": Decimal("1.2345"),
                "price_updated_at": now,
                "price_source": PriceSource.COINGECKO,
            },
        )


def clear_channel_keys(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match="cm:channels*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()


# --- Publisher (a child process, like the Celery worker that polls) -------------------


def btc_closes() -> list[Decimal]:
    return [Decimal(row["close"]) for row in candle_rows()]


def market_batches(batches: int, coins: int, full: bool = False) -> list[list[tuple[int, Decimal]]]:
    """Each poll's moved coins as (rank, price), from the real BTC minutes.

    Coin `rank` is re-priced every REFRESH_SECONDS from a phase of its own (a
    fixed seed: every run replays the same market); a poll carries the coins
    re-priced within its POLL_SECONDS window, priced at the close of the BTC
    minute they fall in, from a start minute of their own, divided by the rank.
    `full`: every coin in every poll, at the poll's minute.
    """
    import random

    closes = btc_closes()
    rng = random.Random(20230301)
    phases = [rng.uniform(0.0, REFRESH_SECONDS) for _ in range(coins)]
    starts = [rng.randrange(len(closes)) for _ in range(coins)]
    out = []
    for index in range(batches):
        begin, end = index * POLL_SECONDS, (index + 1) * POLL_SECONDS
        moved = []
        for rank in range(1, coins + 1):
            phase = phases[rank - 1]
            # The latest re-pricing at or before `end`, if it is after `begin`.
            at = phase + ((end - phase) // REFRESH_SECONDS) * REFRESH_SECONDS
            if full:
                at = end
            elif not (begin < at <= end and at >= 0):
                continue
            close = closes[(starts[rank - 1] + int(at // 60)) % len(closes)]
            moved.append((rank, close / rank))
        out.append(moved)
    return out


def publish(batches: int, interval: float, full: bool) -> None:
    """Send one prices.update per interval; print how long each group_send took."""
    import django

    django.setup()
    from channels.layers import get_channel_layer

    from prices.models import Coin

    # By rank, so the same model applies to the bench's coins and to a real
    # deployment's (the cluster's, `remote`): the n-th coin by market cap.
    tracked = Coin.objects.filter(is_tracked=True).order_by("market_cap_rank", "pk")
    coins = [coin.snapshot() for coin in tracked]
    by_rank = dict(enumerate(coins, start=1))
    # A deployment tracking fewer coins (the local cluster's fake feed has 10)
    # still gets the model's batches: the missing ranks are copies of tracked
    # coins under names of their own, so a frame has a real page's share.
    for rank in range(len(coins) + 1, COINS + 1):
        template = coins[(rank - 1) % len(coins)]
        by_rank[rank] = {
            **template,
            "id": f"bench-coin-{rank:03d}",
            "symbol": f"b{rank:03d}",
            "name": f"Bench Coin {rank}",
        }
    coins = list(by_rank.values())
    polls = market_batches(batches, len(coins), full)
    layer = get_channel_layer()

    async def run() -> list[float]:
        send_ms = []
        stamps.clear()
        start = time.monotonic()
        for index, moved in enumerate(polls):
            await asyncio.sleep(max(0.0, start + index * interval - time.monotonic()))
            if not moved:  # prices.ingest broadcasts nothing when no coin moved
                continue
            batch = []
            for rank, price in moved:
                coin = dict(by_rank[rank])
                # Exact decimal text, as prices.models.decimal_text writes it.
                coin["price"] = format(price.quantize(Decimal("1e-8")).normalize(), "f")
                coin["updated_at"] = datetime.now(UTC).isoformat()
                batch.append(coin)
            stamp = datetime.now(UTC).isoformat()
            stamps.append(stamp)
            before = time.perf_counter()
            await layer.group_send(
                "prices", {"type": "prices.update", "coins": batch, "polled_at": stamp}
            )
            send_ms.append((time.perf_counter() - before) * 1000)
        return send_ms

    sizes = [len(moved) for moved in polls]
    stamps: list[str] = []
    send_ms = asyncio.run(run())
    print(
        json.dumps(
            {
                "batch_bytes": len(json.dumps(coins)),
                "coins_per_batch_mean": round(statistics.mean(sizes), 1),
                "coins_per_batch_max": max(sizes),
                "batches_sent": sum(1 for size in sizes if size),
                "send_ms": send_ms,
                "stamps": stamps,
            }
        )
    )


# --- Clients (child processes) ----------------------------------------------------------


def client_process(urls, count, ready, stop, results, origin, sources) -> None:
    raise_open_files_limit()
    results.put(asyncio.run(run_clients(urls, count, ready, stop, origin, sources)))


async def run_clients(
    urls: list[str], count: int, ready, stop, origin: str, sources: list[str]
) -> dict:
    import websockets

    gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)
    latencies: list[float] = []
    frame_bytes: list[int] = []
    received: list[set[str]] = [set() for _ in range(count)]
    failures: list[str] = []

    async def open_one(index: int):
        url = urls[index % len(urls)]
        # Many clients' own addresses, as behind a load balancer that limits
        # sockets per address (docker/nginx.conf): one address each in turn.
        source = {"local_addr": (sources[index % len(sources)], 0)} if sources else {}
        async with gate:
            began = time.perf_counter()
            try:
                socket = await websockets.connect(
                    url,
                    origin=origin,
                    compression=None,
                    proxy=None,
                    ping_interval=None,
                    max_size=2**22,
                    max_queue=None,
                    open_timeout=60,
                    close_timeout=2,
                    **source,
                )
                await socket.recv(decode=False)  # the snapshot
            except Exception as exc:  # noqa: BLE001 - counted and reported
                failures.append(f"{type(exc).__name__}: {exc}"[:200])
                return None, 0.0
            return socket, time.perf_counter() - began

    async def listen(index: int, socket) -> None:
        marker = b'"polled_at":"'
        try:
            async for data in _frames(socket):
                arrived = time.time()
                if not data.startswith(b'{"type":"prices"'):
                    continue
                # The stamp leads the message: no need to parse 250 coins to read it.
                at = data.find(marker) + len(marker)
                stamp = data[at : data.index(b'"', at)].decode()
                latencies.append(arrived - datetime.fromisoformat(stamp).timestamp())
                received[index].add(stamp)
                if index == 0:
                    frame_bytes.append(len(data))
        except websockets.ConnectionClosed:
            return

    started = time.perf_counter()
    opened = await asyncio.gather(*(open_one(index) for index in range(count)))
    connect_seconds = time.perf_counter() - started
    sockets = [socket for socket, _ in opened]
    listeners = [
        asyncio.create_task(listen(index, socket))
        for index, socket in enumerate(sockets)
        if socket is not None
    ]
    ready.put(
        {
            "connected": len(listeners),
            "failures": failures[:5],
            "failed": len(failures),
            "connect_seconds": connect_seconds,
            "handshake_seconds": [seconds for _, seconds in opened if seconds],
        }
    )
    await asyncio.to_thread(stop.event.wait)
    expected = stop.expected.value
    deadline = time.monotonic() + DRAIN_SECONDS
    # Poll: stragglers are counted by many listener tasks at once.
    while time.monotonic() < deadline and any(  # noqa: ASYNC110
        len(got) < expected for got, socket in zip(received, sockets, strict=True) if socket
    ):
        await asyncio.sleep(0.2)
    # Everything arrived (or the drain ran out): the server's work for the
    # batches is done, and closing the sockets is not part of it.
    ready.put({"drained": True})
    for task in listeners:
        task.cancel()
    # All at once and briefly: a swamped server must not hold the report.
    await asyncio.gather(
        *(socket.close() for socket in sockets if socket is not None), return_exceptions=True
    )
    return {
        "latencies": latencies,
        # Every stamp each socket got: loss counts the publisher's batches
        # only (on a live deployment its own polls' batches arrive too).
        "received": [sorted(got) for got, socket in zip(received, sockets, strict=True) if socket],
        "frame_bytes": frame_bytes,
    }


async def _frames(socket):
    while True:
        yield await socket.recv(decode=False)


class StopSignal:
    """An event plus the number of batches every client should have by then."""

    def __init__(self, context) -> None:
        self.event = context.Event()
        self.expected = context.Value("i", 0)

    def is_set(self) -> bool:
        return self.event.is_set()

    def set(self, expected: int) -> None:
        self.expected.value = expected
        self.event.set()


# --- One scenario ---------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    import psutil

    times = [psutil.Process(pid).cpu_times() for pid in pids]
    return sum(t.user + t.system for t in times)


def rss_bytes(pids: list[int]) -> int:
    import psutil

    return sum(psutil.Process(pid).memory_info().rss for pid in pids)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def warm_up(ports: list[int]) -> None:
    """Open one socket per server so imports and pools are not charged to clients."""
    import websockets.sync.client

    for port in ports:
        with websockets.sync.client.connect(
            f"ws://127.0.0.1:{port}/ws/prices/", origin="http://127.0.0.1", proxy=None
        ) as socket:
            socket.recv()


def run_scenario(layer: str, servers: int, clients: int, seconds: int, full: bool = False) -> dict:
    env = bench_env(layer)
    clear_channel_keys(env["REDIS_URL"])
    load_before = os.getloadavg()
    with _servers(env, servers) as live:
        ports = [server.port for server in live]
        warm_up(ports)
        time.sleep(1.0)
        urls = [f"ws://127.0.0.1:{port}/ws/prices/" for port in ports]
        row = measure(urls, [server.pid for server in live], clients, seconds, full, env)
    load = [round(x, 2) for x in load_before]
    return {"layer": layer, "servers": servers, **row, "load_average_before": load}


def measure(
    urls: list[str],
    pids: list[int],
    clients: int,
    seconds: int,
    full: bool,
    env: dict[str, str],
    origin: str = "http://127.0.0.1",
    ready_file: str = "",
    sources: list[str] | None = None,
) -> dict:
    """Connect `clients` sockets over `urls`, publish `seconds` batches, and measure.

    `pids` are the servers' processes (memory and CPU); `env` the publisher's
    settings on top of this process's; `ready_file`, when given, is written
    once every client is connected, just before the first batch; `sources`,
    the clients' own addresses (one each in turn), else the system's choice.
    """
    context = mp.get_context("spawn")
    load_before = os.getloadavg()
    idle_before = rss_bytes(pids)
    ready, results, stop = context.Queue(), context.Queue(), StopSignal(context)
    shares = [
        clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES)
        for i in range(CLIENT_PROCESSES)
    ]
    workers = [
        context.Process(
            target=client_process,
            args=(urls, share, ready, stop, results, origin, sources or []),
        )
        for share in shares
        if share
    ]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    connects = [ready.get(timeout=600) for _ in workers]
    connect_seconds = time.perf_counter() - began
    time.sleep(2.0)
    idle_after = rss_bytes(pids)
    connected = sum(c["connected"] for c in connects)
    worker_pids = [worker.pid for worker in workers]
    server_cpu, client_cpu = cpu_seconds(pids), cpu_seconds(worker_pids)
    if ready_file:
        Path(ready_file).write_text(str(time.time()))
    publisher = subprocess.run(
        [
            sys.executable,
            __file__,
            "publish",
            "--batches",
            str(seconds),
            *(["--full-batches"] if full else []),
        ],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    published = json.loads(publisher.stdout.strip().splitlines()[-1])
    busy_rss = rss_bytes(pids)
    published_at = time.perf_counter()
    sent = published["batches_sent"]
    stop.set(sent)
    # CPU until every client has every batch: a server that falls behind
    # does the rest of its work after the last batch was published.
    for _ in workers:
        ready.get(timeout=DRAIN_SECONDS + 60)
    drain_seconds = time.perf_counter() - published_at
    server_cpu = cpu_seconds(pids) - server_cpu
    client_cpu = cpu_seconds(worker_pids) - client_cpu
    outcomes = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    latencies = [ms * 1000 for o in outcomes for ms in o["latencies"]]
    stamps = set(published["stamps"])
    received = sum(len(stamps.intersection(got)) for o in outcomes for got in o["received"])
    handshakes = [s for c in connects for s in c["handshake_seconds"]]
    return {
        "clients": clients,
        "connected": connected,
        "connect_failures": sum(c["failed"] for c in connects),
        "connect_failure_examples": [f for c in connects for f in c["failures"]][:3],
        "connect_seconds_all": round(connect_seconds, 2),
        "connect_ms_p50": round(percentile(handshakes, 0.5) * 1000, 1),
        "connect_ms_p99": round(percentile(handshakes, 0.99) * 1000, 1),
        "batches": sent,
        "full_batches": full,
        "coins_per_batch_mean": published["coins_per_batch_mean"],
        "coins_per_batch_max": published["coins_per_batch_max"],
        "batch_bytes": published["batch_bytes"],
        "frame_bytes_max": max((b for o in outcomes for b in o["frame_bytes"]), default=0),
        "group_send_ms_p50": round(statistics.median(published["send_ms"]), 1),
        "group_send_ms_max": round(max(published["send_ms"]), 1),
        "latency_ms_p50": round(percentile(latencies, 0.5), 1),
        "latency_ms_p99": round(percentile(latencies, 0.99), 1),
        "latency_ms_max": round(max(latencies, default=float("nan")), 1),
        "messages_expected": connected * sent,
        "messages_lost": connected * sent - received,
        "rss_idle_mib_before": round(idle_before / 2**20, 1),
        "rss_idle_mib_connected": round(idle_after / 2**20, 1),
        "rss_busy_mib": round(busy_rss / 2**20, 1),
        "kib_per_idle_connection": round((idle_after - idle_before) / 1024 / max(connected, 1), 1),
        # CPU per batch shows what the machine could carry without the noise
        # of other processes: all daphne processes, and all client processes,
        # from the first batch until every client had the last (drain_seconds
        # after it was published).
        "drain_seconds": round(drain_seconds, 1),
        "daphne_cpu_ms_per_batch": round(server_cpu * 1000 / max(sent, 1), 1),
        "client_cpu_ms_per_batch": round(client_cpu * 1000 / max(sent, 1), 1),
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def remote(args: argparse.Namespace) -> None:
    """Measure servers started elsewhere (the local cluster's daphne: deploy/cluster/chaos.py).

    The publisher uses this process's settings (DATABASE_URL, REDIS_URL and
    the channel layer of the deployment measured); one JSON line is printed.
    """
    raise_open_files_limit()
    pids = [int(pid) for pid in args.server_pids.split(",") if pid]
    row = measure(
        args.urls.split(","),
        pids,
        int(args.clients),
        args.seconds,
        args.full_batches,
        {},
        origin=args.origin,
        ready_file=args.ready_file,
        sources=[address for address in args.source_addresses.split(",") if address],
    )
    print(json.dumps({"layer": os.environ.get("CHANNEL_LAYER_BACKEND", "settings"), **row}))


class _servers:
    """Start `count` daphne processes; a context manager over running_daphne()."""

    def __init__(self, env: dict[str, str], count: int) -> None:
        self.managers = [running_daphne(env, access_log=False) for _ in range(count)]

    def __enter__(self):
        return [manager.__enter__() for manager in self.managers]

    def __exit__(self, *exc_info) -> None:
        for manager in reversed(self.managers):
            manager.__exit__(*exc_info)


# --- Report ---------------------------------------------------------------------------


def meets_targets(row: dict) -> bool:
    target = TARGETS.get(row["clients"])
    return (
        row["messages_lost"] == 0
        and row["connect_failures"] == 0
        and (target is None or row["latency_ms_p99"] <= target)
        and row["kib_per_idle_connection"] <= TARGET_KIB_PER_CONNECTION
    )


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'layer':<24}{'daphne':>7}{'clients':>8}{'connect s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'lost':>8}{'failed':>7}{'KiB/conn':>9}{'cpu ms':>8}"
        f"{'coins':>7}{'frame KB':>9}  ok"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['layer']:<24}{row['servers']:>7}{row['clients']:>8}"
            f"{row['connect_seconds_all']:>10}{row['latency_ms_p50']:>9}"
            f"{row['latency_ms_p99']:>9}{row['latency_ms_max']:>9}{row['messages_lost']:>8}"
            f"{row['connect_failures']:>7}"
            f"{row['kib_per_idle_connection']:>9}{row['daphne_cpu_ms_per_batch']:>8}"
            f"{row.get('coins_per_batch_mean', COINS):>7}{row['frame_bytes_max'] / 1000:>9.1f}"
            f"  {'yes' if meets_targets(row) else 'NO'}"
        )
    print(
        f"latency: polled_at stamp -> client receipt; lost: not received {DRAIN_SECONDS:.0f} s "
        "after the last batch; failed: handshakes refused; cpu ms: daphne CPU per batch "
        "(all processes); coins: per batch (mean); frame KB: the largest `prices` frame; "
        f"targets p99 {TARGETS} ms, <= {TARGET_KIB_PER_CONNECTION:.0f} KiB/conn"
    )


def write_results(rows: list[dict]) -> None:
    """Write this run's scenarios, keeping earlier runs' figures for the others."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    key = lambda row: (row["layer"], row["servers"], row["clients"], row.get("full_batches"))  # noqa: E731
    earlier = json.loads(RESULTS.read_text())["scenarios"] if RESULTS.exists() else []
    done = {key(row) for row in rows}
    rows = [row for row in earlier if key(row) not in done] + rows
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "fanout",
                "run_at": datetime.now(UTC).isoformat(),
                "cpus": os.cpu_count(),
                "targets": {"p99_ms": TARGETS, "kib_per_idle_connection": 40, "lost": 0},
                "scenarios": rows,
            },
            indent=2,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", nargs="?", default="run", choices=["run", "seed", "publish", "remote"]
    )
    parser.add_argument("--quick", action="store_true", help="200 clients for 10 s")
    parser.add_argument("--clients", default="1000,5000")
    parser.add_argument("--servers", default="1,2")
    parser.add_argument("--layers", default=",".join(LAYERS))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument(
        "--full-batches",
        action="store_true",
        help="every coin in every batch (the worst case) instead of the coins a poll moves",
    )
    parser.add_argument("--urls", help="remote: the servers' WebSocket URLs, comma-separated")
    parser.add_argument("--origin", default="http://127.0.0.1", help="remote: the Origin header")
    parser.add_argument("--server-pids", default="", help="remote: their pids (CPU, memory)")
    parser.add_argument("--ready-file", default="", help="remote: written when all connected")
    parser.add_argument(
        "--source-addresses", default="", help="remote: the clients' own addresses, in turn"
    )
    args = parser.parse_args()
    if args.command == "remote":
        return remote(args)
    if args.command == "seed":
        return seed_coins()
    if args.command == "publish":
        return publish(args.batches, interval=1.0, full=args.full_batches)
    if args.quick:
        args.clients, args.servers, args.seconds = "200", "1", 10
    raise_open_files_limit()
    prepare_database(bench_env(next(iter(LAYERS))))
    rows: list[dict] = []
    for clients in [int(n) for n in args.clients.split(",")]:
        for servers in [int(n) for n in args.servers.split(",")]:
            for layer in args.layers.split(","):
                print(f"... {layer}, {servers} daphne, {clients} clients", flush=True)
                try:
                    rows.append(
                        run_scenario(layer, servers, clients, args.seconds, args.full_batches)
                    )
                except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the rest
                    rows.append(
                        {
                            "layer": layer,
                            "servers": servers,
                            "clients": clients,
                            "error": f"{type(exc).__name__}: {exc}"[:500],
                        }
                    )
                print(json.dumps(rows[-1]), flush=True)
                write_results(rows)
    print_table([row for row in rows if "error" not in row])
    for row in rows:
        if "error" in row:
            print(f"FAILED {row['layer']} {row['servers']} daphne {row['clients']}: {row['error']}")
    print(f"wrote {RESULTS.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    main()
