"""Alert evaluation benchmark: 10k, 100k and 1M active alerts over 250 coins.

For each scale the alerts table is emptied and loaded with COPY: a *firing
set* placed so that exactly F alerts first match at each of the 20 batches
(targets, thresholds, range bounds, step triggers and percents between
consecutive values), and filler alerts over every condition, window and
frequency whose values lie far from the path. Half the coins rise 0.5% per
batch and half fall 0.5%, their market figures with them (market cap, 24 h
volume, 24 h change in each batch item), so every condition fires.
`--price-conditions` draws the alerts from the price and movement conditions
alone, the mix before the market figure, range and step ones. A fifth of
the alerts (firing and filler alike) are set in other currencies than the
base (CURRENCY_SHARES: EUR, GBP, BTC, each with a fresh rate), so each batch
is matched in four currencies; `--base-currency-only` sets every alert in
the base, the mix before alerts had a currency. Each batch
writes its ticks (not timed) and then runs `alerts.evaluation.evaluate_batch`
exactly as the Celery task does: re-arm, match, claim, events, Delivery rows
through the outbox, commit, enqueue the delivery tasks on commit (to the
bench's own Redis db, emptied at the end).

    .venv/bin/python bench/alerts.py            # 10k, 100k, 1M
    .venv/bin/python bench/alerts.py --quick    # 10k and 100k only
    .venv/bin/python bench/alerts.py --scales 1000000         # the 1M runs only
    .venv/bin/python bench/alerts.py --runs 1000000:1000      # just the target's case
    .venv/bin/python bench/alerts.py --floor   # the writes 1,000 firings need, alone
    .venv/bin/python bench/alerts.py --price-conditions   # the price conditions' mix

Needs PostgreSQL and Redis: BENCH_ALERTS_DATABASE_URL (created and migrated
when missing) and BENCH_ALERTS_REDIS_URL. Prints a table and writes
bench/results/alerts.json. Targets: p50 <= 50 ms per batch at 1M alerts with
up to 1,000 firing, and p50(1M) / p50(10k) <= 2 with the same firing count.

With a fifth of the alerts in EUR, GBP and BTC (2026-12-07, quiet): p50 159 /
202 ms at 10k / 1M alerts with 400 firing, ratio 1.27 (met); 75 / 94 ms and
1.24 in the base only. bench/README.md has what the currencies cost.

With every condition in the mix (2026-12-07, load average 3 to 4.7): p50
62 / 94 ms at 10k / 1M alerts with 400 firing, ratio 1.25 to 1.85 over four
runs (met); bench/README.md has the runs and the code before beside them.

Earlier (2026-11-21, 2 shared cores, load average about 1.3, PostgreSQL 15
with 128 MB shared buffers, firing alerts scattered over the table): p50 61 /
55 / 77 ms at 10k / 100k / 1M alerts with 400 firing (ratio 1.25, met), and
119 to 140 ms (CPU 123 ms) at 1M with 1,000 firing: that target is missed,
and `--floor` shows the writes it needs alone take 53 ms. docs/alerts.md has
the breakdown per phase and why.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.multiprocess_metrics import use_scratch_metrics_dir  # noqa: E402

use_scratch_metrics_dir()  # as production runs: multiprocess metrics
RESULTS = BASE_DIR / "bench" / "results" / "alerts.json"
FLOOR_RESULTS = BASE_DIR / "bench" / "results" / "alerts_floor.json"

DATABASE_URL = os.environ.get(
    "BENCH_ALERTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_bench_alerts"
)
REDIS_URL = os.environ.get("BENCH_ALERTS_REDIS_URL", "redis://127.0.0.1:6379/6")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        # DEBUG off: Django would otherwise keep every query in memory.
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),  # DEBUG=False needs a real one
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
    }
)

COINS = 250
BATCHES = 20
STEP = Decimal("0.005")
USERS = 1000
TARGET_P50_MS = 50.0
TARGET_RATIO = 2.0
PRICE_CONDITIONS = [
    "above",
    "below",
    "crosses_up",
    "crosses_down",
    "crosses",
    "pct_up",
    "pct_down",
    "pct_move",
]
# Market figures, ranges and steps: in the mix unless --price-conditions.
OTHER_CONDITIONS = [
    "market_cap_above",
    "market_cap_below",
    "market_cap_crosses",
    "volume_24h_above",
    "volume_24h_below",
    "change_24h_above",
    "change_24h_below",
    "enters_range",
    "exits_range",
    "pct_step",
    "pct_step_up",
    "pct_step_down",
]
CONDITIONS = PRICE_CONDITIONS + OTHER_CONDITIONS
# The conditions alerts are drawn from (--price-conditions: the price ones).
MIX = CONDITIONS
# Which conditions a rising (or falling) coin's firing alerts use.
RISING = {
    "above",
    "crosses_up",
    "crosses",
    "pct_up",
    "pct_move",
    "market_cap_above",
    "market_cap_crosses",
    "volume_24h_above",
    "change_24h_above",
    "enters_range",
    "exits_range",
    "pct_step_up",
    "pct_step",
}
FALLING = {
    "below",
    "crosses_down",
    "crosses",
    "pct_down",
    "pct_move",
    "market_cap_below",
    "market_cap_crosses",
    "volume_24h_below",
    "change_24h_below",
    "enters_range",
    "exits_range",
    "pct_step_down",
    "pct_step",
}
WINDOWS = ["5m", "1h", "24h"]
# The market figures follow the price: the market cap is SUPPLY coins, the
# 24 h volume a fixed share of it, the 24 h change the move from batch 0.
SUPPLY = Decimal(10_000_000)
VOLUME_SHARE = Decimal("0.05")
# Shares of the alerts set in each currency other than the base, and the
# (made-up, realistic) rates the bench stores for them, fresh at each run.
CURRENCY_SHARES = {"eur": 0.10, "gbp": 0.05, "btc": 0.05}
RATES = {"eur": Decimal("0.9213"), "gbp": Decimal("0.7871"), "btc": Decimal("0.00001534")}
# The columns that hold an amount in the alert's currency.
AMOUNT_FIELDS = ("target", "range_low", "range_high", "step_reference", "step_low", "step_high")
# An alert's columns as COPY writes them; each generated alert sets some.
ALERT_FIELDS = (
    "target",
    "percent",
    "window",
    "threshold",
    "range_low",
    "range_high",
    "step_reference",
    "step_reference_at",
    "step_low",
    "step_high",
)
COLUMNS = (
    'user_id, coin_id, condition, target, percent, "window", threshold, range_low, range_high, '
    "step_reference, step_reference_at, step_low, step_high, note, expires_at, frequency, "
    "cooldown_seconds, channels, status, armed, cooldown_until, last_triggered_at, "
    "created_at, updated_at, expired_from, currency"
)


def ensure_database() -> None:
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    import django
    from django.core.management import call_command

    ensure_database()
    django.setup()
    call_command("migrate", verbosity=0)


def seed_coins_and_users() -> list:
    from django.contrib.auth import get_user_model

    from prices.models import Coin

    User = get_user_model()
    if User.objects.filter(username__startswith="bench-").count() < USERS:
        User.objects.bulk_create(
            [User(username=f"bench-{n}", email=f"bench-{n}@example.com") for n in range(USERS)],
            ignore_conflicts=True,
        )
    Coin.objects.bulk_create(
        [
            Coin(coingecko_id=f"bench-coin-{n}", symbol=f"b{n}", name=f"Bench {n}", is_tracked=True)
            for n in range(COINS)
        ],
        ignore_conflicts=True,
    )
    return list(Coin.objects.filter(coingecko_id__startswith="bench-coin-").order_by("pk"))


def start_price(index: int) -> Decimal:
    # Prices from 0.01 to about 60,000: sub-cent coins and Bitcoin-like ones.
    return (Decimal("0.01") * Decimal(1.04) ** index).quantize(Decimal("0.00000001"))


def path_of(index: int) -> list[Decimal]:
    """The coin's price at batch 0 (history) and after each of the batches."""
    factor = 1 + STEP if index % 2 == 0 else 1 - STEP
    prices = [start_price(index)]
    for _ in range(BATCHES):
        prices.append((prices[-1] * factor).quantize(Decimal("1e-14"), ROUND_HALF_UP))
    return prices


def between(low: Decimal, high: Decimal, rng: random.Random) -> Decimal:
    """A price strictly above low and at most high."""
    value = low + (high - low) * Decimal(rng.uniform(0.05, 1.0))
    return value.quantize(Decimal("1e-14"), ROUND_HALF_UP)


def figures(index: int, batch: int) -> dict[str, Decimal]:
    """The coin's market figures at `batch` (0 is the history), as the batch item sends them."""
    prices = path_of(index)
    price = prices[batch]
    market_cap = (price * SUPPLY).quantize(Decimal("0.01"))
    return {
        "market_cap": market_cap,
        "volume_24h": (market_cap * VOLUME_SHARE).quantize(Decimal("0.01")),
        "change_24h_pct": ((price / prices[0] - 1) * 100).quantize(Decimal("0.0001")),
    }


METRIC_FIGURE = {
    "market_cap": "market_cap",
    "volume_24h": "volume_24h",
    "change_24h": "change_24h_pct",
}


def metric_of(condition: str) -> str:
    return METRIC_FIGURE[condition.rsplit("_", 1)[0]]


def firing_alert(coin_index: int, batch: int, rng: random.Random) -> tuple[str, dict]:
    """An alert on this coin that first matches at `batch` (1-based): (condition, columns)."""
    prices = path_of(coin_index)
    rising = coin_index % 2 == 0
    before, after = prices[batch - 1], prices[batch]
    change_before = abs(before / prices[0] - 1) * 100
    change_after = abs(after / prices[0] - 1) * 100
    condition = rng.choice(sorted((RISING if rising else FALLING) & set(MIX)))
    low, high = (before, after) if rising else (after, before)
    if condition.startswith("pct_") and not condition.startswith("pct_step"):
        percent = change_before + (change_after - change_before) * Decimal(rng.uniform(0.1, 1))
        # Reference is the seeded history (24h of ticks at the start price),
        # so every window sees the same move.
        # Rounding down keeps it at most the move at `batch`.
        return condition, {
            "percent": percent.quantize(Decimal("0.0001"), ROUND_DOWN),
            "window": rng.choice(WINDOWS),
        }
    if condition in OTHER_CONDITIONS and not condition.startswith("pct_step"):
        if condition.endswith("range"):
            return condition, range_across(condition, rising, before, after)
        figure = metric_of(condition)
        # The figure at `batch` reached from the one before, as a price does.
        was, now = figures(coin_index, batch - 1)[figure], figures(coin_index, batch)[figure]
        threshold = first_reached(min(was, now), max(was, now), rising, rng)
        return condition, {"threshold": threshold}
    # A level, a crossing or a step's trigger: first reached at `batch`.
    price = first_reached(low, high, rising, rng)
    if condition.startswith("pct_step"):
        return condition, step_towards(condition, prices[0], price, rising)
    return condition, {"target": price}


def first_reached(low: Decimal, high: Decimal, rising: bool, rng: random.Random) -> Decimal:
    """A value in (low, high] (rising) or [low, high) (falling)."""
    value = between(low, high, rng)
    if not rising:
        # Falling: at least the new value, below the old.
        value = (high - (value - low)).quantize(Decimal("1e-14"))
    return value


def range_across(condition: str, rising: bool, before: Decimal, after: Decimal) -> dict:
    """A range the price enters (or leaves) from `before` to `after`, inside until then."""
    middle = (before + after) / 2
    wide = abs(after - before) * 1000
    if (condition == "enters_range") == rising:
        low, high = middle, middle + wide  # over the low bound
    else:
        low, high = middle - wide, middle  # over the high bound
    return {
        "range_low": max(low, Decimal("1e-14")).quantize(Decimal("1e-14")),
        "range_high": high.quantize(Decimal("1e-14")),
    }


def step_towards(condition: str, reference: Decimal, trigger: Decimal, rising: bool) -> dict:
    """A step alert from `reference` whose band's near side is `trigger`."""
    percent = (abs(trigger / reference - 1) * 100).quantize(Decimal("0.0001"))
    columns = {"percent": percent, "step_reference": reference}
    if rising:
        columns["step_high"] = trigger
        if condition == "pct_step":
            columns["step_low"] = (reference / 2).quantize(Decimal("1e-14"))
    else:
        columns["step_low"] = trigger
        if condition == "pct_step":
            columns["step_high"] = (reference * 2).quantize(Decimal("1e-14"))
    return columns


def filler_alert(coin_index: int, rng: random.Random) -> tuple[str, dict]:
    """An alert far from the price path: it never matches during the benchmark."""
    from alerts.steps import step_band

    base = start_price(coin_index)
    rising = coin_index % 2 == 0
    condition = rng.choice(MIX)
    far_up = base * Decimal(rng.uniform(1.2, 4.0))
    far_down = base * Decimal(rng.uniform(0.1, 0.85))
    if condition.startswith("pct_step"):
        percent = Decimal(rng.uniform(15, 90)).quantize(Decimal("0.0001"))
        low, high = step_band(condition, base, percent)
        return condition, {
            "percent": percent,
            "step_reference": base,
            "step_low": low,
            "step_high": high,
        }
    if condition.startswith("pct_"):
        percent = Decimal(rng.uniform(15, 1000)).quantize(Decimal("0.0001"))
        return condition, {"percent": percent, "window": rng.choice(WINDOWS)}
    if condition.startswith("change_24h"):
        side = 1 if condition.endswith("above") else -1
        threshold = Decimal(side * rng.uniform(30, 95)).quantize(Decimal("0.0001"))
        return condition, {"threshold": threshold}
    if condition in ("above", "market_cap_above", "volume_24h_above"):
        target = far_up
    elif condition in ("below", "market_cap_below", "volume_24h_below"):
        target = far_down
    else:
        # Edges and ranges either side, beyond where the coin goes.
        target = far_up if rng.random() < 0.5 else far_down
        if rising and target < base:
            target = far_down
        if not rising and target > base:
            target = far_up
    target = target.quantize(Decimal("1e-14"))
    if condition.endswith("range"):
        width = target * Decimal("0.05")
        low, high = (target, target + width) if target > base else (target - width, target)
        return condition, {"range_low": low.quantize(Decimal("1e-14")), "range_high": high}
    if condition.startswith(("market_cap", "volume_24h")):
        scale = SUPPLY * (VOLUME_SHARE if condition.startswith("volume") else 1)
        return condition, {"threshold": (target * scale).quantize(Decimal("0.01"))}
    return condition, {"target": target}


def pick_currency(rng: random.Random) -> str:
    draw = rng.random()
    for currency, share in CURRENCY_SHARES.items():
        if draw < share:
            return currency
        draw -= share
    return "usd"


def in_currency(condition: str, fields: dict, factor: Decimal) -> dict:
    """An alert's amounts in a currency: the same alert, its prices times the rate.

    It fires at the same batch as in the base: the batch is converted with
    the same factor. A 24 h change and a percent are the same in any.
    """
    scaled = dict(fields)
    names = list(AMOUNT_FIELDS)
    if condition.startswith(("market_cap", "volume_24h")):
        names.append("threshold")
    for name in names:
        if scaled.get(name) is not None:
            scaled[name] = (scaled[name] * factor).quantize(Decimal("1e-14"))
    return scaled


def store_rates() -> None:
    """The bench's rates, fetched now: fresh for the whole run."""
    from prices.models import ExchangeRate, PriceSource

    for currency, rate in RATES.items():
        ExchangeRate.objects.update_or_create(
            currency=currency,
            defaults={
                "base": "usd",
                "rate": rate,
                "fetched_at": datetime.now(UTC),
                "source": PriceSource.COINGECKO,
            },
        )


def load_alerts(total: int, fires_per_batch: int, coins: list, users: list[int]) -> None:
    from django.db import connection

    rng = random.Random(total * 31 + fires_per_batch)
    now = datetime.now(UTC)
    channels = json.dumps(["email", "in_app"])
    firing = fires_per_batch * BATCHES
    if firing > total:  # the firing set must fit
        raise SystemExit(f"{firing} firing alerts do not fit in {total}")
    # The firing set is scattered over the whole table, each batch's alerts
    # among all ids, as alerts created over months are: packed at the lowest
    # ids they let any plan that walks the primary key in order stop early.
    positions = sorted(rng.sample(range(total), firing))
    batches = [k // fires_per_batch + 1 for k in range(firing)] if fires_per_batch else []
    rng.shuffle(batches)
    batch_at = dict(zip(positions, batches, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE alerts_alert, alerts_alertevent, notifications_delivery "
            "RESTART IDENTITY CASCADE"
        )
        with cursor.cursor.copy(f"COPY alerts_alert ({COLUMNS}) FROM STDIN") as copy:
            for n in range(total):
                coin_index = rng.randrange(COINS)
                if n in batch_at:
                    condition, fields = firing_alert(coin_index, batch_at[n], rng)
                    frequency = "once"
                else:
                    condition, fields = filler_alert(coin_index, rng)
                    frequency = "every_time" if rng.random() < 0.2 else "once"
                if "step_reference" in fields:
                    fields["step_reference_at"] = now
                currency = pick_currency(rng)
                if currency != "usd":
                    fields = in_currency(condition, fields, RATES[currency])
                copy.write_row(
                    (
                        users[n % len(users)],
                        coins[coin_index].pk,
                        condition,
                        *(
                            fields.get(name, "" if name == "window" else None)
                            for name in ALERT_FIELDS
                        ),
                        "",
                        None,
                        frequency,
                        3600,
                        channels,
                        "active",
                        True,
                        None,
                        None,
                        now,
                        now,
                        "",
                        currency,
                    )
                )
        # VACUUM too: otherwise autovacuum starts on the million new rows
        # while the batches are being timed.
        cursor.execute("VACUUM ANALYZE alerts_alert")


def checkpoint() -> None:
    """Flush the loads' writes now, not in a checkpoint during the timed batches.

    A million-row COPY writes hundreds of megabytes of WAL, enough to start a
    checkpoint whose writes would compete with the batches. Needs superuser
    or pg_checkpoint; without, the run goes on with a note.
    """
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError as error:
        print(f"no CHECKPOINT after loading ({error}); timings may include one", flush=True)


def reset_prices(coins: list) -> datetime:
    """Forget earlier runs' ticks; seed 24 h of history at each coin's start price."""
    from django.db import connection

    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM prices_pricetick WHERE coin_id = ANY(%s)", [[coin.pk for coin in coins]]
        )
        with cursor.cursor.copy(
            "COPY prices_pricetick (coin_id, time, price, source) FROM STDIN"
        ) as copy:
            for index, coin in enumerate(coins):
                # One a minute up to a minute ago: every window (5m too) starts
                # at a history tick at the start price for all 20 batches.
                for minutes in range(25 * 60, 0, -1):
                    copy.write_row(
                        (coin.pk, now - timedelta(minutes=minutes), start_price(index), "simulated")
                    )
        # VACUUM: each run deletes the last run's 375k ticks, and their dead
        # index entries would slow every window lookup of the next (a poller
        # never deletes recent ticks).
        cursor.execute("VACUUM ANALYZE prices_pricetick")
    return now


def write_ticks(coins: list, batch: int, at: datetime) -> list[dict]:
    from prices.models import PriceSource, PriceTick

    ticks = PriceTick.objects.bulk_create(
        PriceTick(coin=coin, time=at, price=path_of(index)[batch], source=PriceSource.SIMULATED)
        for index, coin in enumerate(coins)
    )
    items = []
    for index, tick in enumerate(ticks):
        item = {
            "coin_id": tick.coin_id,
            "tick_id": tick.pk,
            "price": str(tick.price),
            "previous_price": str(path_of(index)[batch - 1]),
            "time": at.isoformat(),
        }
        now, before = figures(index, batch), figures(index, batch - 1)
        for name, value in now.items():
            item[name] = str(value)
            item[f"previous_{name}"] = str(before[name])
        items.append(item)
    return items


def cpu_seconds() -> float:
    """CPU time used so far by this process and its PostgreSQL backend (same machine)."""
    from django.db import connection

    connection.ensure_connection()
    backend = Path(f"/proc/{connection.connection.info.backend_pid}/stat")
    # Fields 14 and 15 (utime, stime) counted from after the ")" of the name.
    utime, stime = backend.read_text().rsplit(")", 1)[1].split()[11:13]
    return time.process_time() + (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def explain_claim(batch: list[dict]) -> dict:
    """EXPLAIN the firing statement: which indexes serve it, and no seq scan of alerts."""
    from django.db import connection, transaction

    from alerts.claiming import claim_statement
    from alerts.evaluation import PLAN_SETTINGS, apply_plan_settings
    from alerts.matching import PriceChange, evaluated_rates, window_movements

    changes = [PriceChange.from_message(item) for item in batch]
    now = datetime.now(UTC)
    sql, params = claim_statement(changes, window_movements(changes), now, evaluated_rates(now))
    with transaction.atomic(), connection.cursor() as cursor:
        apply_plan_settings(PLAN_SETTINGS)  # as evaluate_batch plans it
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return {
        "indexes_on_alerts": sorted(
            set(re.findall(r"Index Scan using (\w+) on alerts_alert", plan))
        ),
        "seq_scan_on_alerts": "Seq Scan on alerts_alert" in plan,
        "bitmap_scan": "Bitmap" in plan,
    }


def run_scale(total: int, fires_per_batch: int, coins: list, users: list[int]) -> dict:
    from django.db import transaction

    from alerts.evaluation import evaluate_batch
    from notifications.models import Delivery

    started = time.perf_counter()
    load_alerts(total, fires_per_batch, coins, users)
    store_rates()
    load_seconds = time.perf_counter() - started
    start = reset_prices(coins)
    checkpoint()
    timings, with_enqueue, fired, cpu = [], [], [], []
    explain = None
    for batch_number in range(1, BATCHES + 1):
        at = start + timedelta(seconds=10 * batch_number)
        batch = write_ticks(coins, batch_number, at)
        if explain is None:
            explain = explain_claim(batch)
        committed: list[tuple[float, float]] = []
        began, cpu_began = time.perf_counter(), cpu_seconds()
        with transaction.atomic():
            # Registered first, so it runs right after the commit and before
            # the outbox's callback enqueues the delivery tasks.
            transaction.on_commit(
                lambda marks=committed: marks.append((time.perf_counter(), cpu_seconds()))
            )
            events = evaluate_batch(batch)
        ended = time.perf_counter()
        timings.append((committed[0][0] - began) * 1000)
        cpu.append((committed[0][1] - cpu_began) * 1000)
        with_enqueue.append((ended - began) * 1000)
        fired.append(len(events))
    return {
        "alerts": total,
        "fires_per_batch_planned": fires_per_batch,
        "fired_per_batch": fired,
        "deliveries": Delivery.objects.count(),
        "p50_ms": round(statistics.median(timings), 2),
        "max_ms": round(max(timings), 2),
        "batch_ms": [round(t, 2) for t in timings],
        # After the commit the outbox enqueues the delivery tasks (one per 25
        # deliveries); the rows are already committed (the sweeper covers a
        # lost enqueue).
        "p50_ms_with_enqueue": round(statistics.median(with_enqueue), 2),
        # CPU of this process and its PostgreSQL backend until the commit:
        # what the batch costs, whatever else loads the machine (10 ms ticks,
        # so the mean over the batches).
        "cpu_ms_per_batch": round(statistics.mean(cpu), 1),
        "load_seconds": round(load_seconds, 1),
        "explain": explain,
    }


# The writes the issue asks of every firing, and nothing else: claim the alert
# (a conditional UPDATE), one AlertEvent and one Delivery per channel (email and
# in-app, the default channels), one statement and its commit. No matching, no
# window references, no reasons, no Python between statements.
REQUIRED_WRITES_SQL = """
WITH claimed AS (
    UPDATE alerts_alert SET status = 'triggered', last_triggered_at = now(), updated_at = now()
    WHERE id = ANY(%s) AND status = 'active' RETURNING id, user_id, coin_id
),
events AS (
    INSERT INTO alerts_alertevent
        (alert_id, coin_id, tick_id, price, previous_price, reason, triggered_at)
    SELECT id, coin_id, %s, 1, 1, 'Price 1 is at or above 1.', now() FROM claimed
    RETURNING id, alert_id
)
INSERT INTO notifications_delivery
    (user_id, event_id, channel, status, attempts, last_error, claim_token,
     created_at, updated_at)
SELECT c.user_id, e.id, channel, 'pending', 0, '', '', now(), now()
FROM events e JOIN claimed c ON c.id = e.alert_id
CROSS JOIN (VALUES ('email'), ('in_app')) AS channels(channel)
"""


def required_writes_floor(coins: list, users: list[int], rounds: int = BATCHES) -> dict:
    """p50 of the writes 1,000 firings need at 1M alerts, with and without the foreign keys.

    The lower bound of any evaluator that keeps the issue's outbox: the
    firing alerts are the bench's own (consecutive ids, the best locality).
    "without foreign keys" turns the constraint triggers off for the session
    (session_replication_role): what the integrity checks cost, not a setting
    to run with.
    """
    from django.db import connection, transaction

    load_alerts(1_000_000, 1000, coins, users)
    checkpoint()
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM prices_pricetick")
        (tick,) = cursor.fetchone()
        if tick is None:
            reset_prices(coins)
            write_ticks(coins, 1, datetime.now(UTC))
            cursor.execute("SELECT max(id) FROM prices_pricetick")
            (tick,) = cursor.fetchone()
    result = {}
    first = 0
    for label, setup in (
        ("with foreign keys", ()),
        ("without foreign keys", ("SET LOCAL session_replication_role = replica",)),
    ):
        timings = []
        for _ in range(rounds + 1):  # the first round warms the caches
            ids = list(range(first + 1, first + 1001))
            first += 1000
            began = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                for statement in setup:
                    cursor.execute(statement)
                cursor.execute(REQUIRED_WRITES_SQL, [ids, tick])
            timings.append((time.perf_counter() - began) * 1000)
        result[label] = round(statistics.median(timings[1:]), 1)
        print(f"required writes of 1,000 firings at 1M alerts, {label}: p50 {result[label]} ms")
    return result


def purge_queue() -> None:
    """Drop the delivery tasks this run enqueued: no worker consumes the bench's Redis db."""
    import redis

    redis.Redis.from_url(REDIS_URL).delete("celery", "notifications")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k alerts only")
    parser.add_argument(
        "--runs",
        help="only these runs, as ALERTS:FIRING pairs, e.g. 10000:400,1000000:1000",
    )
    parser.add_argument(
        "--scales",
        help="only the planned runs with these alert counts, e.g. 1000000",
    )
    parser.add_argument(
        "--price-conditions",
        action="store_true",
        help="alerts of the price conditions only (the mix before market, range and step ones)",
    )
    parser.add_argument(
        "--base-currency-only",
        action="store_true",
        help="every alert in the base currency (the mix before alerts had a currency)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="only the writes 1,000 firings require at 1M alerts (the target's lower bound)",
    )
    args = parser.parse_args()
    global MIX, CURRENCY_SHARES
    if args.price_conditions:
        MIX = PRICE_CONDITIONS
    if args.base_currency_only:
        CURRENCY_SHARES = {}
    setup_django()
    from django.contrib.auth import get_user_model

    coins = seed_coins_and_users()
    users = list(
        get_user_model().objects.filter(username__startswith="bench-").values_list("pk", flat=True)
    )
    if args.floor:
        floor = required_writes_floor(coins, users)
        FLOOR_RESULTS.parent.mkdir(parents=True, exist_ok=True)
        FLOOR_RESULTS.write_text(
            json.dumps(
                {
                    "benchmark": "alerts-required-writes",
                    "measured_at": datetime.now(UTC).isoformat(),
                    "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
                    "p50_ms": floor,
                    "target_p50_ms_for_the_whole_batch": TARGET_P50_MS,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"wrote {FLOOR_RESULTS.relative_to(BASE_DIR)}")
        return
    # (alerts, firing per batch): 400 is what 10k alerts can hold over 20
    # batches; 0 times the matching alone; 1,000 is the target's case.
    plan = [(10_000, 400), (100_000, 400), (1_000_000, 400), (10_000, 0), (1_000_000, 0)]
    plan.append((1_000_000, 1000))
    if args.quick:
        plan = [(10_000, 400), (100_000, 400), (10_000, 0), (100_000, 0)]
    if args.runs:
        plan = [tuple(int(n) for n in pair.split(":")) for pair in args.runs.split(",")]
    if args.scales:
        scales = {int(n) for n in args.scales.split(",")}
        plan = [(total, firing) for total, firing in plan if total in scales]
    runs = []
    try:
        for total, firing in plan:
            runs.append(run_scale(total, firing, coins, users))
            print_run(runs[-1])
    finally:
        purge_queue()
    report(runs)


def print_run(run: dict) -> None:
    print(
        f"{run['alerts']:>9,} alerts  firing/batch {run['fires_per_batch_planned']:>5}  "
        f"p50 {run['p50_ms']:>8.2f} ms  max {run['max_ms']:>8.2f} ms  "
        f"cpu {run['cpu_ms_per_batch']:>6.1f} ms  "
        f"fired {min(run['fired_per_batch'])}..{max(run['fired_per_batch'])}  "
        f"(loaded in {run['load_seconds']} s)",
        flush=True,
    )


def _ratio(small: dict | None, large: dict | None) -> float | None:
    return round(large["p50_ms"] / small["p50_ms"], 2) if small and large else None


def report(runs: list[dict]) -> None:
    by_key = {(run["alerts"], run["fires_per_batch_planned"]): run for run in runs}
    ratio = _ratio(by_key.get((10_000, 400)), by_key.get((1_000_000, 400)))
    ratio_matching = _ratio(by_key.get((10_000, 0)), by_key.get((1_000_000, 0)))
    thousand = by_key.get((1_000_000, 1000))
    load = os.getloadavg()
    result = {
        "benchmark": "alerts",
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "loadavg_1_5_15": [round(x, 2) for x in load]},
        "batches": BATCHES,
        "conditions": MIX,
        "currency_shares": CURRENCY_SHARES,
        "coins": COINS,
        "move_per_batch_pct": float(STEP * 100),
        "runs": runs,
        "ratio_1m_to_10k_p50": ratio,
        "ratio_1m_to_10k_p50_no_firing": ratio_matching,
        "targets": {
            "p50_ms_at_1m_with_1000_firing": TARGET_P50_MS,
            "ratio_1m_to_10k": TARGET_RATIO,
        },
        "met": {
            "p50_at_1m_1000_firing": (thousand["p50_ms"] <= TARGET_P50_MS) if thousand else None,
            "ratio": (ratio <= TARGET_RATIO) if ratio is not None else None,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print("p50/max: match, claim, events and Delivery rows, committed; +enqueue: p50 including")
    print("the post-commit enqueue of the delivery tasks (one per 25 deliveries).")
    print("cpu ms: mean CPU of this process + its PostgreSQL backend per batch, to commit.")
    header = f"{'alerts':>10} {'firing':>7} {'p50 ms':>9} {'max ms':>9} {'+enqueue':>9}"
    print(f"{header} {'cpu ms':>7} {'fired':>6}")
    for run in runs:
        print(
            f"{run['alerts']:>10,} {run['fires_per_batch_planned']:>7} {run['p50_ms']:>9.2f} "
            f"{run['max_ms']:>9.2f} {run['p50_ms_with_enqueue']:>9.2f} "
            f"{run['cpu_ms_per_batch']:>7.1f} {statistics.median(run['fired_per_batch']):>6}"
        )
    print(f"ratio p50(1M) / p50(10k), 400 firing: {ratio}  (target <= {TARGET_RATIO})")
    print(f"ratio p50(1M) / p50(10k), none firing: {ratio_matching}")
    if thousand:
        print(
            f"p50 at 1M with 1,000 firing: {thousand['p50_ms']} ms (target <= {TARGET_P50_MS}); "
            f"CPU {thousand['cpu_ms_per_batch']} ms per batch"
        )
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"wrote {RESULTS.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    main()
