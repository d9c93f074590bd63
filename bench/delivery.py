"""Delivery benchmark: a burst of 10,000 alert emails, and single-alert latency.

1. Latency: one user, one `above` alert, the fake CoinGecko server (real HTTP
   on 127.0.0.1) moves bitcoin past it, `prices.polling.poll_once()` stores
   the tick and enqueues evaluation; a real Celery worker evaluates, fires and
   delivers; we time until the local SMTP server (aiosmtpd) accepts the mail.
   p50 over --latency-runs rounds (target <= 1 s). Measured from the start of
   the poll (an upper bound: it includes the fetch before the commit).
2. Burst: 10,000 users with one email alert each on 100 coins, all firing in
   one price batch (alerts.evaluation.evaluate_batch, the evaluator itself),
   then every email must be accepted by the SMTP server within 60 s, each
   exactly once (delivery ids and Message-IDs counted at the server).

    .venv/bin/python bench/delivery.py [--burst 10000] [--latency-runs 20]
        [--concurrency 4] [--keep]

Needs PostgreSQL and Redis. BENCH_DELIVERY_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/cm_bench_delivery) is created, migrated and
dropped afterwards (unless --keep); BENCH_DELIVERY_REDIS_URL (default db 7)
carries the Celery queues, emptied before and after. Prints a table and writes
bench/results/delivery.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from email.parser import BytesHeaderParser
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.multiprocess_metrics import use_scratch_metrics_dir  # noqa: E402

use_scratch_metrics_dir()  # as production runs: multiprocess metrics

from bench.scratch_database import drop_database, recreate_database  # noqa: E402

RESULTS = BASE_DIR / "bench" / "results" / "delivery.json"
DATABASE_URL = os.environ.get(
    "BENCH_DELIVERY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_bench_delivery"
)
REDIS_URL = os.environ.get("BENCH_DELIVERY_REDIS_URL", "redis://127.0.0.1:6379/7")
# The default queue of that Redis db (evaluation) and the deliveries' own
# (settings.CELERY_TASK_ROUTES): the bench's workers consume both.
QUEUES = ("celery", "notifications")
BURST_COINS = 100
TARGETS = {"burst_seconds": 60.0, "latency_p50_ms": 1000.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """aiosmtpd handler: records when each message was accepted and what it carried."""

    def __init__(self) -> None:
        self.accepted: list[tuple[float, str, str]] = []  # (time, delivery ids, Message-ID)
        self.lock = threading.Lock()
        self.parser = BytesHeaderParser()

    async def handle_DATA(self, server, session, envelope):
        headers = self.parser.parsebytes(envelope.content)
        with self.lock:
            self.accepted.append(
                (
                    time.time(),
                    headers.get("X-CryptoMonitor-Delivery", ""),
                    headers.get("Message-ID", ""),
                )
            )
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


def environment(smtp_port: int, fake_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),  # DEBUG=False needs a real one
        "LOG_LEVEL": "WARNING",
        "PRICE_SOURCE": "coingecko",
        "COINGECKO_BASE_URL": fake_url,
        "TRACKED_COINS": "bitcoin",
        # One alert per user here: grouping never applies, every alert is an email.
        "NOTIFICATIONS_EMAIL_GROUP_THRESHOLD": "3",
    }


def start_worker(env: dict[str, str], concurrency: int, pool: str, n: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(BASE_DIR / ".venv" / "bin" / "celery"),
            "-A",
            "cryptomonitor",
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "-Q",
            ",".join(QUEUES),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
            f"--hostname=bench-delivery-{n}@%h",
        ],
        cwd=BASE_DIR,
        env={**os.environ, **env},
    )


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return False


def bench_latency(sink: Sink, fake, runs: int) -> dict:
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    from alerts.models import Alert
    from prices.models import Coin
    from prices.polling import poll_once

    poll_once(force=True)  # the first poll creates the coin and warms everything up
    coin = Coin.objects.get(coingecko_id="bitcoin")
    samples_from_poll, samples_from_commit = [], []
    # Round 0 warms up (the workers may still be starting) and is not counted.
    for i in range(runs + 1):
        user = get_user_model().objects.create_user(f"latency{i}", f"latency{i}@bench.example")
        # Alert mail goes only to confirmed addresses (docs/security.md).
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        price = Decimal(fake.move("bitcoin", 0))  # current price
        Alert.objects.create(
            user=user, coin=coin, condition="above", target=price + 1, channels=["email"]
        )
        fake.set_price("bitcoin", price + 2)
        before = sink.count()
        started = time.time()
        report = poll_once(force=True)
        returned = time.time()
        if not report.ok or not wait_until(lambda b=before: sink.count() > b, 10):
            raise SystemExit(f"latency round {i}: no email ({report.summary()})")
        accepted = sink.accepted[before][0]
        if i:
            samples_from_poll.append((accepted - started) * 1000)
            samples_from_commit.append((accepted - returned) * 1000)
        time.sleep(0.2)
    return {
        "runs": runs,
        "p50_ms_from_poll_start": round(statistics.median(samples_from_poll), 1),
        "p95_ms_from_poll_start": round(_p95(samples_from_poll), 1),
        "p50_ms_from_poll_return": round(statistics.median(samples_from_commit), 1),
        "max_ms_from_poll_start": round(max(samples_from_poll), 1),
        "samples_ms_from_poll_start": [round(sample) for sample in samples_from_poll],
    }


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def load_burst(count: int) -> list[dict]:
    """count users with one email alert each, and a batch that fires them all."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.db import connection

    from accounts.models import Profile
    from alerts.models import Alert
    from prices.models import Coin, PriceTick

    User = get_user_model()
    users = User.objects.bulk_create(
        User(username=f"burst{i}", email=f"burst{i}@bench.example", password="!")
        for i in range(count)
    )
    Profile.objects.bulk_create(Profile(user=user) for user in users)
    EmailAddress.objects.bulk_create(
        EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users
    )
    now = datetime.now(UTC)
    coins = Coin.objects.bulk_create(
        Coin(
            coingecko_id=f"burst-coin-{i}",
            symbol=f"bc{i}",
            name=f"Burst coin {i}",
            price=Decimal(100 + i),
            price_updated_at=now,
        )
        for i in range(BURST_COINS)
    )
    Alert.objects.bulk_create(
        Alert(
            user=user,
            coin=coins[i % BURST_COINS],
            condition="above",
            target=coins[i % BURST_COINS].price + Decimal("0.5"),
            channels=["email"],
        )
        for i, user in enumerate(users)
    )
    ticks = PriceTick.objects.bulk_create(
        PriceTick(coin=coin, time=now, price=coin.price + 1, source="coingecko") for coin in coins
    )
    # Planner statistics, as autovacuum would have them for tables this size:
    # without them the claiming UPDATE picks a plan that takes a minute.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return [
        {
            "coin_id": tick.coin_id,
            "tick_id": tick.pk,
            "price": str(tick.price),
            "previous_price": str(tick.price - 1),
            "time": tick.time.isoformat(),
        }
        for tick in ticks
    ]


def bench_burst(sink: Sink, count: int) -> dict:
    from django.db.models import Count

    from alerts.evaluation import evaluate_batch
    from notifications.models import Delivery

    batch = load_burst(count)
    before = sink.count()
    started = time.time()
    events = evaluate_batch(batch)  # commits; deliveries are enqueued on commit
    fired_at = time.time()
    finished = wait_until(lambda: sink.count() - before >= count, TARGETS["burst_seconds"] + 30)
    # Let any duplicate arrive before counting.
    time.sleep(2)
    with sink.lock:
        accepted = sink.accepted[before:]
    delivery_ids = [int(i) for _, ids, _ in accepted for i in ids.split(",") if i]
    expected = set(
        Delivery.objects.filter(event__in=[e.pk for e in events]).values_list("pk", flat=True)
    )
    elapsed = (accepted[-1][0] - started) if accepted else float("inf")
    return {
        "alerts": count,
        "fired": len(events),
        "emails_accepted": len(accepted),
        "all_accepted": finished and set(delivery_ids) == expected,
        "duplicates": len(delivery_ids) - len(set(delivery_ids)),
        "distinct_message_ids": len({message_id for _, _, message_id in accepted}),
        "evaluate_seconds": round(fired_at - started, 2),
        "seconds_to_last_email": round(elapsed, 2),
        # The target: from the firing commit (evaluation speed is bench/alerts.py's).
        "seconds_from_firing_to_last_email": round(elapsed - (fired_at - started), 2),
        "emails_per_second": round(len(accepted) / (elapsed - (fired_at - started)), 1)
        if accepted
        else 0,
        "statuses": dict(
            Delivery.objects.filter(pk__in=expected)
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        ),
        "errors": list(
            Delivery.objects.filter(pk__in=expected)
            .exclude(last_error="")
            .values_list("last_error", flat=True)
            .distinct()[:5]
        ),
    }


def parse_arguments(doc: str, burst: int) -> argparse.Namespace:
    """The options bench/delivery.py and bench/push.py share."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--burst", type=int, default=burst)
    parser.add_argument("--latency-runs", type=int, default=20)
    # One worker process per CPU, each with threads: sends wait on I/O.
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker")
    parser.add_argument("--pool", default="threads", choices=["prefork", "threads", "solo"])
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    return parser.parse_args()


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def report(
    title: str,
    args: argparse.Namespace,
    rows: list[tuple[str, str, str]],
    passed: dict[str, bool],
    load_before: float,
    burst: dict,
    latency: dict,
    results: Path,
) -> None:
    """Print the table and write the JSON of a delivery-style benchmark."""
    print(
        f"\n{title} ({args.workers} workers x {args.concurrency} {args.pool}, "
        f"{os.cpu_count()} CPUs)"
    )
    print(f"{'measure':<28} {'result':>22} {'target':>12}")
    for name, value, target in rows:
        print(f"{name:<28} {value:>22} {target:>12}")
    print(f"targets met: burst {passed['burst']}, latency {passed['latency']}")
    print(f"load average before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f}")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "cpus": os.cpu_count(),
                # Other work on the machine skews these figures: the 1-minute
                # load average before and after the run.
                "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                "workers": args.workers,
                "worker_pool": args.pool,
                "worker_concurrency": args.concurrency,
                "burst": burst,
                "latency": latency,
                "targets": TARGETS,
                "passed": passed,
            },
            indent=2,
        )
        + "\n"
    )
    # Like the other benchmarks, report rather than fail `make bench`: the
    # verdict is in the table and in the JSON ("passed").


def main() -> None:
    args = parse_arguments(__doc__, burst=10_000)

    import redis
    from aiosmtpd.controller import Controller

    from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins

    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    fake = FakeCoinGecko(generate_coins(1)).start()
    env = environment(smtp_port, fake.url)
    os.environ.update(env)
    recreate_database(DATABASE_URL)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    queue_redis = redis.Redis.from_url(REDIS_URL)
    queue_redis.delete(*QUEUES)
    from django.db import connections

    connections.close_all()
    load_before = os.getloadavg()[0]
    workers = [start_worker(env, args.concurrency, args.pool, n) for n in range(args.workers)]
    try:
        latency = bench_latency(sink, fake, args.latency_runs)
        burst = bench_burst(sink, args.burst)
    finally:
        stop_workers(workers)
        controller.stop()
        fake.stop()
        queue_redis.delete(*QUEUES)
        if not args.keep:
            drop_database(DATABASE_URL)

    passed = {
        "burst": burst["all_accepted"]
        and burst["duplicates"] == 0
        and burst["seconds_from_firing_to_last_email"] <= TARGETS["burst_seconds"],
        "latency": latency["p50_ms_from_poll_start"] <= TARGETS["latency_p50_ms"],
    }
    rows = [
        ("burst: alerts fired", f"{burst['fired']:,}", f"{args.burst:,}"),
        ("burst: emails accepted", f"{burst['emails_accepted']:,}", "each once"),
        ("burst: duplicates", str(burst["duplicates"]), "0"),
        ("burst: evaluate + commit", f"{burst['evaluate_seconds']} s", ""),
        ("burst: batch start -> last", f"{burst['seconds_to_last_email']} s", ""),
        (
            "burst: fired -> last email",
            f"{burst['seconds_from_firing_to_last_email']} s",
            "<= 60 s",
        ),
        ("burst: throughput", f"{burst['emails_per_second']} emails/s", ""),
        ("latency p50 (poll start)", f"{latency['p50_ms_from_poll_start']} ms", "<= 1000 ms"),
        ("latency p95 (poll start)", f"{latency['p95_ms_from_poll_start']} ms", ""),
        ("latency p50 (poll return)", f"{latency['p50_ms_from_poll_return']} ms", ""),
    ]
    report("Delivery benchmark", args, rows, passed, load_before, burst, latency, RESULTS)


if __name__ == "__main__":
    main()
