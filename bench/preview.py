"""Alert preview benchmark: POST /api/v1/alerts/preview/ over 30 days of 10-second ticks.

One tracked coin gets 30 days of ticks 10 seconds apart (259,200) made from
the real BTC/USD minute candles of March 2023 kept in the repository
(prices/tests/data): the 21 days as they were, then 9 days of the same
minutes played backwards from the last one, so the path stays continuous
and ends now. Each minute becomes six ticks, at :00 :10 ... :50 each moved
0-4 s later at random, walking open → the extreme the candle reached first
(low for a rising candle, high for a falling one) → the other extreme →
close, through the midpoints, each price moved up to ±0.01 % at random and
kept within the candle's low and high. Minute and hour rollups are made from
the ticks, as ingest keeps them.

Then a user previews a mix of alerts through the API in-process (Django's
test client with a token, every middleware, DRF validation, the replay SQL,
the walk, the JSON), each alert --rounds times in shuffled order: levels 1 %
and 3 % from the price, crossings 1 % and 2 % away, movements of 1-5 % within
5 minutes, 1 hour and 24 hours, once and every_time with cooldowns of 15
minutes to 4 hours, and a few ranges and steps. Reports p50/p95 overall
and by kind, with the firings found, the CPU of the process and its
PostgreSQL backend per preview, and EXPLAINs one movement's statement.

    .venv/bin/python bench/preview.py [--rounds 5] [--keep-data]

Needs PostgreSQL and Redis: BENCH_PREVIEW_DATABASE_URL (created and migrated
when missing; the ticks are reloaded unless --keep-data finds them) and
BENCH_PREVIEW_REDIS_URL (throttle counters). Prints a table and writes
bench/results/preview.json. Target: p95 <= 300 ms per preview.
"""

from __future__ import annotations

import argparse
import io
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

use_scratch_metrics_dir()  # as production runs: multiprocess metrics

from bench.scratch_database import ensure_database  # noqa: E402

RESULTS = BASE_DIR / "bench" / "results" / "preview.json"
DATABASE_URL = os.environ.get(
    "BENCH_PREVIEW_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_bench_preview"
)
REDIS_URL = os.environ.get("BENCH_PREVIEW_REDIS_URL", "redis://127.0.0.1:6379/10")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "DEBUG": "False",  # as production: no query log
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
        "LOG_HTTP_LEVEL": "WARNING",  # no line per request
        "ALLOWED_HOSTS": "testserver",
        # The bench measures the preview, not the throttle's refusals.
        "API_THROTTLE_USER": "1000000/min",
        "API_THROTTLE_ALERT_PREVIEW": "1000000/min",
    }
)

COIN_ID = "bench-preview-bitcoin"
DAYS = 30
TICK_SECONDS = 10
TARGET_P95_MS = 300.0


def setup_django() -> None:
    import django
    from django.core.management import call_command

    ensure_database(DATABASE_URL)
    django.setup()
    call_command("migrate", verbosity=0)


def minutes_of_march_2023() -> list[tuple[Decimal, Decimal, Decimal, Decimal]]:
    """30 days of (open, high, low, close): 21 real days, then 9 played backwards."""
    from prices.tests.market_data import candle_rows

    forward = [
        (Decimal(r["open"]), Decimal(r["high"]), Decimal(r["low"]), Decimal(r["close"]))
        for r in candle_rows()
    ]
    # Backwards a candle opens at its close and closes at its open.
    backward = [(c, h, low, o) for (o, h, low, c) in reversed(forward)]
    return (forward + backward)[: DAYS * 24 * 60]


def tick_rows(coin_pk: int, end: datetime) -> tuple[io.StringIO, Decimal]:
    """COPY text of the ticks (see the module's docstring) and the last price."""
    rng = random.Random(2023)
    minutes = minutes_of_march_2023()
    start = end - timedelta(minutes=len(minutes))
    buffer = io.StringIO()
    cent = Decimal("0.01")
    price = Decimal(0)
    for index, (o, h, low, c) in enumerate(minutes):
        first, second = (low, h) if c >= o else (h, low)
        path = [o, (o + first) / 2, first, second, (second + c) / 2, c]
        minute = start + timedelta(minutes=index)
        for slot, point in enumerate(path):
            jitter = Decimal(rng.uniform(-0.0001, 0.0001))
            price = min(max(point * (1 + jitter), low), h).quantize(cent)
            at = minute + timedelta(seconds=TICK_SECONDS * slot + rng.randint(0, 4))
            buffer.write(f"{coin_pk}\t{at.isoformat()}\t{price}\tbackfill\n")
    buffer.seek(0)
    return buffer, price


ROLLUPS_SQL = """
INSERT INTO prices_pricerollup
    (coin_id, resolution, bucket, open, high, low, close, open_time, close_time, simulated)
SELECT coin_id, %(resolution)s, date_trunc(%(unit)s, time),
    (array_agg(price ORDER BY time))[1], max(price), min(price),
    (array_agg(price ORDER BY time DESC))[1], min(time), max(time), FALSE
FROM prices_pricetick WHERE coin_id = %(coin)s
GROUP BY coin_id, date_trunc(%(unit)s, time)
"""


def load_history(keep: bool) -> tuple:
    """The coin, its last price, and the user's token key."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from accounts.models import ApiToken
    from prices.models import Coin, PriceTick

    coin, _ = Coin.objects.get_or_create(
        coingecko_id=COIN_ID, defaults={"symbol": "bbtc", "name": "Bench Bitcoin"}
    )
    user, _ = get_user_model().objects.get_or_create(username="bench-preview")
    _, key = ApiToken.issue(user, "bench")
    ticks = PriceTick.objects.filter(coin=coin)
    if not (keep and ticks.count() >= DAYS * 24 * 360 * 0.99):
        end = timezone.now().replace(microsecond=0)
        buffer, _ = tick_rows(coin.pk, end)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM prices_pricetick WHERE coin_id = %s", [coin.pk])
            cursor.execute("DELETE FROM prices_pricerollup WHERE coin_id = %s", [coin.pk])
            with cursor.cursor.copy(
                "COPY prices_pricetick (coin_id, time, price, source) FROM STDIN"
            ) as copy:
                copy.write(buffer.getvalue())
            for resolution, unit in (("1m", "minute"), ("1h", "hour")):
                cursor.execute(
                    ROLLUPS_SQL, {"resolution": resolution, "unit": unit, "coin": coin.pk}
                )
            cursor.execute("VACUUM ANALYZE prices_pricetick")
            cursor.execute("VACUUM ANALYZE prices_pricerollup")
    last = ticks.order_by("-time").first()
    coin.is_tracked, coin.price, coin.price_updated_at = True, last.price, last.time
    coin.save()
    return coin, last.price, key


def alert_mix(price: Decimal) -> list[tuple[str, dict]]:
    """(kind, body) of the previewed alerts: what people set near the price."""

    def away(percent: float) -> str:
        return str((price * Decimal(1 + percent / 100)).quantize(Decimal("0.01")))

    every = {"frequency": "every_time"}
    mix: list[tuple[str, dict]] = []
    for percent in (1, 3):
        mix += [
            ("level", {"condition": "above", "target": away(percent)}),
            ("level", {"condition": "below", "target": away(-percent)}),
            ("level", {"condition": "above", "target": away(-percent), **every,
                       "cooldown_seconds": 3600}),
            ("level", {"condition": "below", "target": away(percent), **every,
                       "cooldown_seconds": 4 * 3600}),
        ]  # fmt: skip
    for percent in (1, 2):
        mix += [
            ("edge", {"condition": "crosses_up", "target": away(percent)}),
            ("edge", {"condition": "crosses_down", "target": away(-percent), **every,
                      "cooldown_seconds": 900}),
            ("edge", {"condition": "crosses", "target": away(percent), **every,
                      "cooldown_seconds": 3600}),
        ]  # fmt: skip
    for window, percents in (("5m", (1, 2)), ("1h", (2, 3)), ("24h", (3, 5))):
        for percent in percents:
            mix += [
                ("movement", {"condition": "pct_up", "percent": str(percent),
                              "window": window}),
                ("movement", {"condition": "pct_down", "percent": str(percent),
                              "window": window, **every, "cooldown_seconds": 3600}),
                ("movement", {"condition": "pct_move", "percent": str(percent),
                              "window": window, **every, "cooldown_seconds": 4 * 3600}),
            ]  # fmt: skip
    mix += [
        ("range", {"condition": "enters_range", "range_low": away(-1), "range_high": away(1),
                   **every, "cooldown_seconds": 3600}),
        ("range", {"condition": "exits_range", "range_low": away(-2), "range_high": away(2)}),
        ("step", {"condition": "pct_step", "percent": "2", **every, "cooldown_seconds": 3600}),
        ("step", {"condition": "pct_step_up", "percent": "5"}),
    ]  # fmt: skip
    # The busiest: a 1 % move within 24 hours holds most of the month.
    mix.append(
        ("movement", {"condition": "pct_move", "percent": "1", "window": "24h", **every,
                      "cooldown_seconds": 900})
    )  # fmt: skip
    return [(kind, {"coin": COIN_ID, **body}) for kind, body in mix]


def explain_movement(body: dict) -> dict:
    """EXPLAIN ANALYZE of a 24 h movement's replay statement: what it reads."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from alerts.evaluation import apply_plan_settings
    from alerts.matching import MATCH_RULES, REARM_RULES
    from alerts.models import Alert
    from alerts.preview import PREVIEW_SETTINGS, history_bounds, rules_for, segments_statement
    from prices.models import Coin

    user = get_user_model().objects.get(username="bench-preview")
    alert = Alert(
        user=user,
        coin=Coin.objects.get(coingecko_id=COIN_ID),
        condition=body["condition"],
        percent=Decimal(body["percent"]),
        window=body["window"],
        frequency=body.get("frequency", "once"),
        cooldown_seconds=body.get("cooldown_seconds", 3600),
    )
    bounds = history_bounds(alert, timezone.now())
    bounds.pop("has_history")
    sql, params = segments_statement(
        alert,
        bounds,
        rules_for(alert.condition, MATCH_RULES),
        rules_for(alert.condition, REARM_RULES),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        apply_plan_settings(PREVIEW_SETTINGS)  # as alerts.preview.preview runs it
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {
        "alert": body,
        "seq_scan": "Seq Scan" in plan,
        "sort": "Sort" in plan,
        "plan": plan,
    }


def cpu_seconds() -> float:
    """CPU time used so far by this process and its PostgreSQL backend (same machine)."""
    from django.db import connection

    connection.ensure_connection()
    backend = Path(f"/proc/{connection.connection.info.backend_pid}/stat")
    # Fields 14 and 15 (utime, stime) counted from after the ")" of the name.
    utime, stime = backend.read_text().rsplit(")", 1)[1].split()[11:13]
    return time.process_time() + (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


# What any replay of a month of ticks through SQL costs, step by step: the
# (coin, time) index range alone, with the 24 h reference (first_value over
# the RANGE frame), with the move computed from it (a NUMERIC division), and
# with the runs found (lag over the rows, its frame in rows as the
# preview's, alerts.preview.LAG_FRAME); the preview's statement adds the
# rules and the alert's row to the last.
FLOOR_STEPS = {
    "index range scan": "SELECT count(*) FROM prices_pricetick t WHERE {range}",
    "+ 24 h reference": (
        "SELECT count(ref) FROM (SELECT first_value(price) OVER (ORDER BY time RANGE BETWEEN "
        "INTERVAL '24 hours' PRECEDING AND CURRENT ROW) AS ref FROM prices_pricetick t "
        "WHERE {range}) x"
    ),
    "+ move (division)": (
        "SELECT count(*) FROM (SELECT price, first_value(price) OVER (ORDER BY time RANGE "
        "BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW) AS ref FROM prices_pricetick t "
        "WHERE {range}) x WHERE abs(price - ref) / ref * 100 >= 3"
    ),
    "+ runs (lag)": (
        "SELECT count(*) FROM (SELECT m, lag(m) OVER (ORDER BY time ROWS CURRENT ROW) AS before "
        "FROM (SELECT "
        "time, abs(price - ref) / ref * 100 >= 3 AS m FROM (SELECT time, price, "
        "first_value(price) OVER (ORDER BY time RANGE BETWEEN INTERVAL '24 hours' PRECEDING "
        "AND CURRENT ROW) AS ref FROM prices_pricetick t WHERE {range}) x ORDER BY time "
        "OFFSET 0) y) z WHERE m IS DISTINCT FROM before"
    ),
}


def floor(coin, rounds: int) -> dict:
    """p50 of each FLOOR_STEPS statement over the month of ticks (index ranges only)."""
    from django.db import connection, transaction

    where = "t.coin_id = %s AND t.time >= now() - INTERVAL '31 days'"
    result = {}
    for name, sql in FLOOR_STEPS.items():
        timings = []
        for _ in range(rounds + 1):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL enable_seqscan = off")
                began = time.perf_counter()
                cursor.execute(sql.format(range=where), [coin.pk])
                cursor.fetchall()
                timings.append((time.perf_counter() - began) * 1000)
        result[name] = round(statistics.median(timings[1:]), 1)
        print(f"floor: {name:<22} p50 {result[name]:>7.1f} ms", flush=True)
    return result


def run(rounds: int, keep: bool) -> dict:
    from django.test import Client

    coin, price, key = load_history(keep)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    mix = alert_mix(price)
    order = [index for index in range(len(mix)) for _ in range(rounds)]
    random.Random(7).shuffle(order)
    # One warm-up round of each: connections, caches, plans.
    for _, body in mix:
        client.post("/api/v1/alerts/preview/", body, content_type="application/json", secure=True)
    timings: dict[int, list[float]] = {index: [] for index in range(len(mix))}
    cpu: dict[int, list[float]] = {index: [] for index in range(len(mix))}
    answers: dict[int, dict] = {}
    for index in order:
        cpu_began, began = cpu_seconds(), time.perf_counter()
        response = client.post(
            "/api/v1/alerts/preview/", mix[index][1], content_type="application/json", secure=True
        )
        timings[index].append((time.perf_counter() - began) * 1000)
        cpu[index].append((cpu_seconds() - cpu_began) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{mix[index][1]}: {response.status_code} {response.content!r}")
        answers[index] = response.json()
    result = report(mix, timings, cpu, answers, explain_movement(mix[-1][1]), rounds)
    result["floor_p50_ms"] = floor(coin, rounds)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(mix, timings, cpu, answers, explain, rounds) -> dict:
    every = [t for values in timings.values() for t in values]
    all_cpu = [t for values in cpu.values() for t in values]
    kinds = {}
    for kind in ("level", "edge", "movement", "range", "step"):
        values = [t for i, values in timings.items() if mix[i][0] == kind for t in values]
        used = [t for i, values in cpu.items() if mix[i][0] == kind for t in values]
        kinds[kind] = {
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(percentile(values, 0.95), 1),
            "cpu_p50_ms": round(statistics.median(used), 1),
            "cpu_p95_ms": round(percentile(used, 0.95), 1),
            "requests": len(values),
        }
    alerts = [
        {
            "kind": kind,
            "alert": body,
            "p50_ms": round(statistics.median(timings[i]), 1),
            "max_ms": round(max(timings[i]), 1),
            "fired_30d": answers[i]["fired_30d"],
            "resolution": answers[i]["resolution"],
        }
        for i, (kind, body) in enumerate(mix)
    ]
    load = os.getloadavg()
    result = {
        "benchmark": "preview",
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "loadavg_1_5_15": [round(x, 2) for x in load]},
        "ticks": DAYS * 24 * 3600 // TICK_SECONDS,
        "rounds": rounds,
        "p50_ms": round(statistics.median(every), 1),
        "p95_ms": round(percentile(every, 0.95), 1),
        # CPU of this process and its PostgreSQL backend per preview (10 ms
        # ticks, so the mean): what a preview costs, whatever else loads the
        # machine.
        "cpu_ms_mean": round(statistics.mean(all_cpu), 1),
        "cpu_ms_p95": round(percentile(all_cpu, 0.95), 1),
        "by_kind": kinds,
        "alerts": alerts,
        "target_p95_ms": TARGET_P95_MS,
        "met": percentile(every, 0.95) <= TARGET_P95_MS,
        "explain": explain,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"{'alert':<58} {'p50 ms':>8} {'max ms':>8} {'fired':>6}")
    for row in alerts:
        body = row["alert"]
        keys = ("condition", "target", "range_low", "range_high", "percent", "window")
        name = " ".join(str(body[k]) for k in keys if body.get(k))
        name += f" {body.get('frequency', 'once')} {body.get('cooldown_seconds', '')}".rstrip()
        print(f"{name:<58} {row['p50_ms']:>8.1f} {row['max_ms']:>8.1f} {row['fired_30d']:>6}")
    print()
    print(f"{'kind':<10} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} {'cpu p95':>8} {'requests':>9}")
    for kind, figures in kinds.items():
        print(
            f"{kind:<10} {figures['p50_ms']:>8.1f} {figures['p95_ms']:>8.1f} "
            f"{figures['cpu_p50_ms']:>8.1f} {figures['cpu_p95_ms']:>8.1f} {figures['requests']:>9}"
        )
    print(f"{'all':<10} {result['p50_ms']:>8.1f} {result['p95_ms']:>8.1f} {len(every):>9}")
    print(f"CPU (process + backend) per preview: mean {result['cpu_ms_mean']} ms, "
          f"p95 {result['cpu_ms_p95']} ms")  # fmt: skip
    print(f"target p95 <= {TARGET_P95_MS} ms: {'met' if result['met'] else 'MISSED'}")
    print(f"EXPLAIN of a 24 h movement: seq scan {explain['seq_scan']}, sort {explain['sort']}")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"wrote {RESULTS.relative_to(BASE_DIR)}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="previews of each alert")
    parser.add_argument(
        "--keep-data", action="store_true", help="reuse the ticks of the last run if complete"
    )
    args = parser.parse_args()
    setup_django()
    run(args.rounds, args.keep_data)


if __name__ == "__main__":
    main()
