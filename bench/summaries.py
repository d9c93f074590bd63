"""Scheduled summaries benchmark: the beat task's minute at 1k, 10k and 100k schedules.

Beat runs `summaries.sending.send_due_summaries` every minute, and it reads
every enabled schedule to decide which are due in its owner's zone. Two
minutes are timed at each scale:

- a *quiet* minute: nothing due (each schedule's time is computed in its
  owner's zone and found not due), the cost every minute pays;
- a *busy* minute: 1,000 of the schedules due at once (users with 5
  watched coins and 3 active alerts each), each claimed and its 2
  deliveries written and enqueued (to the bench's Redis db, emptied after).

Schedules belong to one user each, in 12 time zones, at random local times,
daily or on weekdays. The claims of a busy minute are deleted before the
next run.

    .venv/bin/python bench/summaries.py                 # 1k, 10k, 100k
    .venv/bin/python bench/summaries.py --scales 10000  # one scale
    .venv/bin/python bench/summaries.py --runs 5        # quiet runs per scale

Needs PostgreSQL and Redis: BENCH_SUMMARIES_DATABASE_URL (created afresh,
dropped at the end) and BENCH_SUMMARIES_REDIS_URL. Prints a table and
writes bench/results/summaries.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.multiprocess_metrics import use_scratch_metrics_dir  # noqa: E402
from bench.scratch_database import drop_database, recreate_database  # noqa: E402

use_scratch_metrics_dir()  # as production runs: multiprocess metrics
RESULTS = BASE_DIR / "bench" / "results" / "summaries.json"

DATABASE_URL = os.environ.get(
    "BENCH_SUMMARIES_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_bench_summaries"
)
REDIS_URL = os.environ.get("BENCH_SUMMARIES_REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "DEBUG": "False",  # Django would otherwise keep every query in memory
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
    }
)

ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Moscow",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Los_Angeles",
]
BUSY = 1000
COINS = 50
BATCH = 5000
# The busy minute: a Monday, 12:00 UTC; the quiet one, past its catch-up window.
NOW = datetime(2026, 1, 19, 12, 0, tzinfo=UTC)
QUIET = NOW + timedelta(hours=2)


def setup() -> None:
    import django
    from django.core.management import call_command

    recreate_database(DATABASE_URL)
    django.setup()
    call_command("migrate", verbosity=0)


def seed_coins() -> list:
    from prices.models import Coin

    Coin.objects.bulk_create(
        Coin(
            coingecko_id=f"bench-coin-{n}",
            symbol=f"b{n}",
            name=f"Bench {n}",
            is_tracked=True,
            price=Decimal(1000 + n),
            change_24h_pct=Decimal("1.5"),
            price_updated_at=NOW,
        )
        for n in range(COINS)
    )
    return list(Coin.objects.order_by("pk"))


def add_schedules(start: int, count: int, rng: random.Random) -> None:
    """`count` users, each with a profile and one schedule never due in the minutes timed."""
    from django.contrib.auth import get_user_model

    from accounts.models import Profile
    from summaries.models import SummarySchedule

    user_model = get_user_model()
    for first in range(start, start + count, BATCH):
        numbers = range(first, min(first + BATCH, start + count))
        users = user_model.objects.bulk_create(
            user_model(username=f"bench-{n}", email=f"bench-{n}@example.com") for n in numbers
        )
        Profile.objects.bulk_create(
            Profile(user=user, time_zone=ZONES[user.pk % len(ZONES)]) for user in users
        )
        SummarySchedule.objects.bulk_create(
            SummarySchedule(
                user=user,
                time_of_day=f"{rng.randrange(24):02}:{rng.randrange(60):02}",
                days=rng.choice(["daily", "weekdays"]),
                channels=["email", "in_app"],
                due_from=NOW + timedelta(days=1),
            )
            for user in users
        )


def make_busy(coins: list, rng: random.Random) -> None:
    """BUSY schedules due at NOW (12:00 UTC), their owners with a watchlist and alerts."""
    from accounts.models import Profile
    from alerts.models import Alert
    from prices.models import WatchlistEntry
    from summaries.models import SummarySchedule

    busy = list(SummarySchedule.objects.select_related("user").order_by("pk")[:BUSY])
    assert len(busy) == BUSY, "the smallest scale must hold the busy minute's schedules"
    Profile.objects.filter(user__in=[s.user for s in busy]).update(time_zone="UTC")
    SummarySchedule.objects.filter(pk__in=[s.pk for s in busy]).update(
        time_of_day="12:00", days="daily", due_from=NOW - timedelta(days=1)
    )
    WatchlistEntry.objects.bulk_create(
        WatchlistEntry(user=s.user, coin=coin) for s in busy for coin in rng.sample(coins, 5)
    )
    Alert.objects.bulk_create(
        Alert(user=s.user, coin=coin, condition="above", target=coin.price * 2)
        for s in busy
        for coin in rng.sample(coins, 3)
    )


def timed(run) -> tuple[float, float]:
    """Wall and this process's CPU seconds of `run()`."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def quiet_minute(runs: int) -> list[tuple[float, float]]:
    from summaries.sending import send_due_summaries

    def run() -> None:
        assert send_due_summaries(QUIET) == 0

    return [timed(run) for _ in range(runs)]


def busy_minute(runs: int) -> list[tuple[float, float]]:
    from notifications.models import Delivery
    from summaries.models import SummaryOccurrence
    from summaries.sending import send_due_summaries

    def run() -> None:
        assert send_due_summaries(NOW) == BUSY

    times = []
    for _ in range(runs):
        times.append(timed(run))
        assert Delivery.objects.count() == 2 * BUSY
        Delivery.objects.all().delete()
        SummaryOccurrence.objects.all().delete()
    return times


def median_ms(times: list[tuple[float, float]], which: int) -> float:
    return round(statistics.median(t[which] for t in times) * 1000, 1)


def empty_queues() -> None:
    from celery import current_app

    with current_app.connection_for_write() as connection:
        connection.default_channel.client.delete("notifications", "celery")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    setup()
    rng = random.Random(7)
    coins = seed_coins()
    rows = []
    made = 0
    try:
        for scale in sorted(options.scales):
            add_schedules(made, scale - made, rng)
            if made == 0:
                make_busy(coins, rng)
            made = scale
            quiet = quiet_minute(options.runs)
            busy = busy_minute(max(1, options.runs // 2))
            empty_queues()
            row = {
                "schedules": scale,
                "quiet_ms": median_ms(quiet, 0),
                "quiet_cpu_ms": median_ms(quiet, 1),
                "busy_ms": median_ms(busy, 0),
                "busy_cpu_ms": median_ms(busy, 1),
                "load_average": os.getloadavg()[0],
            }
            rows.append(row)
            print(
                f"{scale:>7} schedules: quiet minute {row['quiet_ms']:>7} ms "
                f"(CPU {row['quiet_cpu_ms']}), busy minute ({BUSY} due) {row['busy_ms']:>8} ms "
                f"(CPU {row['busy_cpu_ms']}), load average {row['load_average']:.1f}",
                flush=True,
            )
    finally:
        empty_queues()
        drop_database(DATABASE_URL)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"date": time.strftime("%Y-%m-%d"), "busy": BUSY, "rows": rows}, indent=2) + "\n"
    )
    print(f"wrote {RESULTS.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    main()
