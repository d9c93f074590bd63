"""Web Push benchmark: single-alert latency to a push service, and a burst of 1,000.

1. Latency: one user with one browser, one `above` alert on channel web_push;
   the fake CoinGecko server moves bitcoin past it, `poll_once()` stores the
   tick, a real Celery worker evaluates, fires and pushes; we time until the
   local push service (notifications/tests/push_service.py: VAPID checked,
   body decrypted with the browser's keys) accepts the request. p50 over
   --latency-runs rounds (target <= 1 s), from the poll's start and from
   its return (the commit).
2. Burst: --burst users (default 1,000), one browser and one web_push alert
   each, on 100 coins, all firing in one price batch (evaluate_batch); every
   push must be accepted within 60 s of the firing commit, each once
   (counted by the delivery's tag in the decrypted message).

    .venv/bin/python bench/push.py [--burst 1000] [--latency-runs 20] [--keep]

Needs PostgreSQL and Redis. BENCH_PUSH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/cm_bench_push) is created, migrated and
dropped afterwards (unless --keep); BENCH_PUSH_REDIS_URL (default db 8)
carries the Celery queues, emptied before and after. Prints a table and writes
bench/results/push.json.
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.delivery import (  # noqa: E402
    QUEUES,
    _p95,
    parse_arguments,
    report,
    start_worker,
    stop_workers,
    wait_until,
)
from bench.scratch_database import drop_database, recreate_database  # noqa: E402

RESULTS = BASE_DIR / "bench" / "results" / "push.json"
DATABASE_URL = os.environ.get(
    "BENCH_PUSH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_bench_push"
)
REDIS_URL = os.environ.get("BENCH_PUSH_REDIS_URL", "redis://127.0.0.1:6379/8")
BURST_COINS = 100
TARGETS = {"burst_seconds": 60.0, "latency_p50_ms": 1000.0}


def environment(fake_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),  # DEBUG=False needs a real one
        "LOG_LEVEL": "WARNING",
        "PRICE_SOURCE": "coingecko",
        "COINGECKO_BASE_URL": fake_url,
        "TRACKED_COINS": "bitcoin",
        # The push service listens on 127.0.0.1, as a self-hoster's would.
        "OUTBOUND_ALLOW_PRIVATE_IPS": "True",
    }


def subscribe(users: list, service) -> None:
    from notifications.models import PushSubscription

    subscriptions = []
    for user in users:
        keys = service.new_browser().subscription()
        subscriptions.append(
            PushSubscription(
                user=user,
                endpoint=keys["endpoint"],
                p256dh=keys["keys"]["p256dh"],
                auth=keys["keys"]["auth"],
                browser="Bench browser",
            )
        )
    PushSubscription.objects.bulk_create(subscriptions)


def bench_latency(service, fake, runs: int) -> dict:
    from django.contrib.auth import get_user_model

    from alerts.models import Alert
    from prices.models import Coin
    from prices.polling import poll_once

    poll_once(force=True)  # the first poll creates the coin and warms everything up
    coin = Coin.objects.get(coingecko_id="bitcoin")
    from_poll, from_commit = [], []
    # Round 0 warms up (the workers may still be starting) and is not counted.
    for i in range(runs + 1):
        user = get_user_model().objects.create_user(f"latency{i}", f"latency{i}@bench.example")
        subscribe([user], service)
        price = Decimal(fake.move("bitcoin", 0))
        Alert.objects.create(
            user=user, coin=coin, condition="above", target=price + 1, channels=["web_push"]
        )
        fake.set_price("bitcoin", price + 2)
        before = len(service.accepted())
        started = time.monotonic()
        report = poll_once(force=True)
        returned = time.monotonic()
        if not report.ok or not wait_until(lambda b=before: len(service.accepted()) > b, 10):
            raise SystemExit(f"latency round {i}: no push ({report.summary()})")
        accepted = service.accepted()[before].received_at
        if i:
            from_poll.append((accepted - started) * 1000)
            from_commit.append((accepted - returned) * 1000)
        time.sleep(0.2)
    return {
        "runs": runs,
        "p50_ms_from_poll_start": round(statistics.median(from_poll), 1),
        "p95_ms_from_poll_start": round(_p95(from_poll), 1),
        "p50_ms_from_poll_return": round(statistics.median(from_commit), 1),
        "max_ms_from_poll_start": round(max(from_poll), 1),
        "samples_ms_from_poll_start": [round(sample) for sample in from_poll],
    }


def load_burst(count: int, service) -> list[dict]:
    """count users with one browser and one web_push alert each, and a batch firing all."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from alerts.models import Alert
    from prices.models import Coin, PriceTick

    User = get_user_model()
    users = User.objects.bulk_create(
        User(username=f"burst{i}", email=f"burst{i}@bench.example", password="!")
        for i in range(count)
    )
    subscribe(users, service)
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
            channels=["web_push"],
        )
        for i, user in enumerate(users)
    )
    ticks = PriceTick.objects.bulk_create(
        PriceTick(coin=coin, time=now, price=coin.price + 1, source="coingecko") for coin in coins
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have it for tables this size
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


def bench_burst(service, count: int) -> dict:
    from django.db.models import Count

    from alerts.evaluation import evaluate_batch
    from notifications.models import Delivery

    batch = load_burst(count, service)
    before = len(service.accepted())
    started = time.monotonic()
    events = evaluate_batch(batch)  # commits; deliveries are enqueued on commit
    fired_at = time.monotonic()
    finished = wait_until(
        lambda: len(service.accepted()) - before >= count, TARGETS["burst_seconds"] + 30
    )
    time.sleep(2)  # let any duplicate arrive before counting
    accepted = service.accepted()[before:]
    tags = Counter(push.message["tag"] for push in accepted if push.message)
    expected = {
        f"cryptomonitor-delivery-{pk}"
        for pk in Delivery.objects.filter(event__in=[e.pk for e in events]).values_list(
            "pk", flat=True
        )
    }
    last = max((push.received_at for push in accepted), default=float("inf"))
    return {
        "alerts": count,
        "fired": len(events),
        "pushes_accepted": len(accepted),
        "all_accepted": finished and set(tags) == expected,
        "duplicates": sum(tags.values()) - len(tags),
        "all_signed_and_decrypted": all(p.signature_valid and p.message for p in accepted)
        and not service.problems,
        "evaluate_seconds": round(fired_at - started, 2),
        "seconds_from_firing_to_last_push": round(last - fired_at, 2),
        "pushes_per_second": round(len(accepted) / (last - fired_at), 1) if accepted else 0,
        "statuses": dict(
            Delivery.objects.filter(event__in=[e.pk for e in events])
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        ),
    }


def main() -> None:
    args = parse_arguments(__doc__, burst=1_000)

    import redis

    from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins

    fake = FakeCoinGecko(generate_coins(1)).start()
    env = environment(fake.url)
    os.environ.update(env)
    recreate_database(DATABASE_URL)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from notifications import push
    from notifications.tests.push_service import PushService

    call_command("migrate", verbosity=0)
    service = PushService()
    service.expected_vapid_key = push.public_key()  # generated here, kept in the database
    queue_redis = redis.Redis.from_url(REDIS_URL)
    queue_redis.delete(*QUEUES)
    connections.close_all()
    load_before = os.getloadavg()[0]
    workers = [start_worker(env, args.concurrency, args.pool, n) for n in range(args.workers)]
    try:
        latency = bench_latency(service, fake, args.latency_runs)
        burst = bench_burst(service, args.burst)
    finally:
        stop_workers(workers)
        service.stop()
        fake.stop()
        queue_redis.delete(*QUEUES)
        connections.close_all()
        if not args.keep:
            drop_database(DATABASE_URL)

    passed = {
        "burst": burst["all_accepted"]
        and burst["duplicates"] == 0
        and burst["all_signed_and_decrypted"]
        and burst["seconds_from_firing_to_last_push"] <= TARGETS["burst_seconds"],
        "latency": latency["p50_ms_from_poll_start"] <= TARGETS["latency_p50_ms"],
    }
    rows = [
        ("burst: alerts fired", f"{burst['fired']:,}", f"{args.burst:,}"),
        ("burst: pushes accepted", f"{burst['pushes_accepted']:,}", "each once"),
        ("burst: duplicates", str(burst["duplicates"]), "0"),
        ("burst: signed + decrypted", str(burst["all_signed_and_decrypted"]), "True"),
        ("burst: evaluate + commit", f"{burst['evaluate_seconds']} s", ""),
        ("burst: fired -> last push", f"{burst['seconds_from_firing_to_last_push']} s", "<= 60 s"),
        ("burst: throughput", f"{burst['pushes_per_second']} pushes/s", ""),
        ("latency p50 (poll start)", f"{latency['p50_ms_from_poll_start']} ms", "<= 1000 ms"),
        ("latency p95 (poll start)", f"{latency['p95_ms_from_poll_start']} ms", ""),
        ("latency p50 (poll return)", f"{latency['p50_ms_from_poll_return']} ms", ""),
    ]
    report("Web Push benchmark", args, rows, passed, load_before, burst, latency, RESULTS)


if __name__ == "__main__":
    main()
