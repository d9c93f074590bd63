"""Ingest benchmark: one full poll of 250 coins, and the 1y history query.

1. Poll: against the fake CoinGecko server (real HTTP on 127.0.0.1), one
   `poll_once()` end to end: fetch /coins/markets for 250 coins, validate,
   write ticks, snapshots and rollups in one transaction, broadcast one
   batch through the Redis channel layer to a subscriber, enqueue alert
   evaluation. Every coin moves before each run, so every run writes 250 ticks.
2. History: `price_history(coin, "1y")` for a coin with 30 days of 10-second
   ticks (259,200 rows) among 250 coins, rollups built in one SQL statement.

    .venv/bin/python bench/ingest.py [--runs 30] [--history-runs 50] [--keep]

Needs PostgreSQL and Redis. BENCH_INGEST_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/cm_bench) is created, migrated and dropped
afterwards (unless --keep); BENCH_REDIS_URL (default db 14) gets the channel
layer's keys and a queue of its own for the alert tasks, deleted at the end.
Prints a table and writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.multiprocess_metrics import use_scratch_metrics_dir  # noqa: E402

use_scratch_metrics_dir()  # as production runs: multiprocess metrics

from bench.scratch_database import drop_database, recreate_database  # noqa: E402

RESULTS = BASE_DIR / "bench" / "results" / "ingest.json"
DATABASE_URL = os.environ.get(
    "BENCH_INGEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ALERT_QUEUE = "bench-ingest-alerts"
COINS = 250
TICK_SECONDS = 10
HISTORY_DAYS = 30
OTHER_COINS_TICK_SECONDS = 3600  # the other 249 coins: hourly ticks, to fill the table
TARGETS_MS = {"poll": 100.0, "history_1y": 50.0}


def setup_django() -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "DEBUG": "False",
            "SECRET_KEY": secrets.token_urlsafe(50),  # DEBUG=False needs a real one
            "LOG_LEVEL": "WARNING",
            "PRICE_SOURCE": "coingecko",
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Alert tasks go to a queue no worker reads, deleted at the end.
    settings.CELERY_TASK_ROUTES = {"alerts.tasks.evaluate_alerts": {"queue": ALERT_QUEUE}}
    from cryptomonitor.celery import app

    app.conf.task_routes = settings.CELERY_TASK_ROUTES
    call_command("migrate", verbosity=0)


def summarize(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)
    return {
        "runs": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
    }


class Subscriber:
    """A member of the "prices" group living on its own event loop, as a consumer does.

    The pub/sub layer (the default) only delivers to channels of the loop
    that created them, so the listener keeps one loop for its whole life.
    """

    def __init__(self) -> None:
        from channels.layers import get_channel_layer

        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.channel = self._run(self.layer.new_channel())
        self._run(self.layer.group_add("prices", self.channel))

    def _run(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def receive(self) -> dict:
        return self._run(self.layer.receive(self.channel))

    def close(self) -> None:
        self._run(self.layer.group_discard("prices", self.channel))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# --- 1. one full poll --------------------------------------------------------------


def bench_poll(runs: int) -> tuple[dict, dict]:
    from django.conf import settings

    from prices.models import PriceTick
    from prices.polling import poll_once
    from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins

    subscriber = Subscriber()
    rng = random.Random(1)
    samples, cpu, received, stored = [], [], 0, 0
    with FakeCoinGecko(generate_coins(COINS)) as fake:
        settings.COINGECKO_BASE_URL = fake.url
        settings.COINGECKO_API_PLAN, settings.COINGECKO_API_KEY = "public", ""
        settings.TRACKED_COINS = list(fake.coins)
        poll_once(force=True)  # creates the 250 coins; not measured
        subscriber.receive()
        for _ in range(runs):
            for coin_id in fake.coins:
                fake.move(coin_id, rng.uniform(-0.5, 0.5))
            started, started_cpu = time.perf_counter(), time.process_time()
            report = poll_once(force=True)
            samples.append((time.perf_counter() - started) * 1000)
            # This process's CPU (poller, and the fake server's thread): what
            # the wall time would shrink towards on an idle machine.
            cpu.append((time.process_time() - started_cpu) * 1000)
            if not report.ok:
                raise SystemExit(f"poll failed: {report.summary()}")
            stored += report.ingest.stored
            message = subscriber.receive()
            received += len(message["coins"])
    subscriber.close()
    checks = {
        "ticks_written_per_run": stored / runs,
        "coins_broadcast_per_run": received / runs,
        "ticks_in_table": PriceTick.objects.count(),
        "python_cpu_median_ms": round(statistics.median(cpu), 2),
    }
    return summarize(samples), checks


# --- 2. the 1y history query -----------------------------------------------------------


def load_history(now: datetime) -> tuple[int, dict]:
    """30 days of 10 s bitcoin ticks by COPY, 5-minute ticks for the others, rollups."""
    from django.db import connection, transaction

    from prices.models import Coin, PriceRollup, PriceTick
    from prices.rollups import postgres_rollups_sql

    Coin.objects.filter(coingecko_id="bitcoin").update(price=None, price_updated_at=None)
    PriceRollup.objects.all().delete()
    PriceTick.objects.all().delete()
    target = Coin.objects.get(coingecko_id="bitcoin")
    start = now - timedelta(days=HISTORY_DAYS)
    rng = random.Random(2)
    timings = {}
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        price, count = 23000.0, HISTORY_DAYS * 86400 // TICK_SECONDS
        with cursor.cursor.copy(
            "COPY prices_pricetick (coin_id, time, price, source) FROM STDIN"
        ) as copy:
            for i in range(count):
                price *= 1 + rng.gauss(0, 0.0005)
                copy.write_row(
                    (
                        target.pk,
                        start + timedelta(seconds=TICK_SECONDS * i),
                        f"{price:.2f}",
                        "coingecko",
                    )
                )
        timings["copy_target_s"] = round(time.perf_counter() - began, 2)
        cursor.execute(
            """INSERT INTO prices_pricetick (coin_id, time, price, source)
               SELECT c.id, g, (1 + random()) * 10, 'coingecko'
               FROM prices_coin c, generate_series(%s::timestamptz, %s, %s * interval '1 second') g
               WHERE c.id <> %s""",
            [start, now, OTHER_COINS_TICK_SECONDS, target.pk],
        )
        timings["load_others_s"] = round(time.perf_counter() - began, 2)
        # The ingest's own rollup statement, fed the whole tick table at once.
        cursor.execute(postgres_rollups_sql("prices_pricetick"))
        timings["rollups_s"] = round(time.perf_counter() - began, 2)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE prices_pricetick; ANALYZE prices_pricerollup")
    return count, timings


def bench_history(runs: int) -> tuple[dict, dict]:
    from django.db import connection
    from django.utils import timezone

    from prices.history import RANGES, price_history
    from prices.models import Coin, PriceRollup, PriceTick

    now = timezone.now()
    target_ticks, timings = load_history(now)
    coin = Coin.objects.get(coingecko_id="bitcoin")
    connection.ensure_connection()
    results = {}
    for range_key in RANGES:
        samples, points = [], 0
        for _ in range(runs):
            started = time.perf_counter()
            points = len(price_history(coin, range_key, now=now))
            samples.append((time.perf_counter() - started) * 1000)
        results[range_key] = {**summarize(samples), "points": points}
    data = {
        "target_coin_ticks": target_ticks,
        "ticks_in_table": PriceTick.objects.count(),
        "rollups_in_table": PriceRollup.objects.count(),
        "coins_in_table": Coin.objects.count(),
        "load": timings,
    }
    return results, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--history-runs", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    recreate_database(DATABASE_URL)
    setup_django()
    try:
        poll, poll_checks = bench_poll(args.runs)
        history, history_data = bench_history(args.history_runs)
    finally:
        import redis

        redis.Redis.from_url(REDIS_URL).delete(ALERT_QUEUE)
        if not args.keep:
            drop_database(DATABASE_URL)

    rows = [("poll 250 coins (end to end)", poll, TARGETS_MS["poll"])]
    rows += [(f"history {key}", history[key], TARGETS_MS.get(f"history_{key}")) for key in history]
    print(
        f"{'benchmark':<32}{'median ms':>11}{'p90 ms':>9}{'min ms':>9}{'points':>8}"
        f"{'target ms':>11}  verdict"
    )
    for name, stats, target in rows:
        verdict = "" if target is None else ("PASS" if stats["median_ms"] <= target else "FAIL")
        print(
            f"{name:<32}{stats['median_ms']:>11.2f}{stats['p90_ms']:>9.2f}"
            f"{stats['min_ms']:>9.2f}{stats.get('points', ''):>8}"
            f"{'' if target is None else f'{target:.0f}':>11}  {verdict}"
        )
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"poll: {poll_checks}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (figures are noisy when busy)")
    print(f"history data: {history_data}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "ingest",
                "ran_at": datetime.now(UTC).isoformat(),
                "targets_ms": TARGETS_MS,
                "machine": {"cpus": os.cpu_count(), "load_average": load},
                "poll": {**poll, **poll_checks, "passed": poll["median_ms"] <= TARGETS_MS["poll"]},
                "history": {
                    **history,
                    "data": history_data,
                    "passed": history["1y"]["median_ms"] <= TARGETS_MS["history_1y"],
                },
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    main()
