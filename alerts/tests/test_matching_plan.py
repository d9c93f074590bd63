"""The matching probes' plan on PostgreSQL: plain index scans, never bitmap or sequential scans."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from alerts.claiming import _LOCK, REARM_SQL, claim_statement
from alerts.evaluation import PLAN_SETTINGS, apply_plan_settings, evaluate_batch
from alerts.matching import (
    CURRENCIES_IN_USE_SQL,
    REARM_RULES,
    PriceChange,
    batch_cte,
    matching_part,
)
from alerts.models import Alert, Condition

pytestmark = pytest.mark.django_db


def firing_plan(coin, previous: str, options: str = "", **figures: Decimal) -> list[str]:
    """EXPLAIN `options` of FIRE_SQL for `coin` moving from `previous` to 30000, rolled back.

    `figures` are the batch row's market figures (market_cap=..., ...).
    """
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE alerts_alert")
    now = timezone.now()
    change = PriceChange(coin.pk, None, Decimal("30000"), Decimal(previous), now, **figures)
    sql, params = claim_statement([change], [], now - timedelta(seconds=1))
    with transaction.atomic(), connection.cursor() as cursor:
        apply_plan_settings(PLAN_SETTINGS)
        cursor.execute(f"EXPLAIN {options} {sql}", params)
        plan = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return plan


def test_probes_use_index_scans_that_skip_fired_alerts_stale_entries(bitcoin, owner):
    # A fired alert leaves its old version in the armed indexes until VACUUM
    # (on a large table autovacuum waits for 20 % of it to be dead). A plain
    # index scan marks such an entry dead once; a bitmap scan visits its heap
    # page again in every batch. With this many alerts on one coin the
    # planner picks bitmap scans for the open-ended level ranges, or, with
    # bitmaps off alone, a sequential scan of the table for each probe.
    Alert.objects.bulk_create(
        Alert(user=owner, coin=bitcoin, condition=condition, target=Decimal(40000 + n))
        for n in range(3000)
        for condition in (Condition.ABOVE, Condition.BELOW)
    )
    plan = "\n".join(firing_plan(bitcoin, previous="29000"))

    assert "Index Scan using alert_armed_target_idx" in plan
    assert "Bitmap" not in plan
    assert "Seq Scan" not in plan


MARKET = {
    "market_cap": Decimal("600000000000"),
    "previous_market_cap": Decimal("590000000000"),
    "volume_24h": Decimal("20000000000"),
    "change_24h_pct": Decimal("-3"),
}


def many_alerts_of_each_new_condition(owner, coin, each: int = 2000) -> None:
    """`each` alerts of every market, range and step condition on `coin`, none firing."""
    alerts = []
    for n in range(each):
        far = Decimal(50000 + n)
        for condition in ("market_cap_above", "market_cap_crosses", "volume_24h_above"):
            alerts.append(Alert(condition=condition, threshold=far * 10**8))
        alerts.append(Alert(condition="market_cap_below", threshold=Decimal(1 + n)))
        alerts.append(
            Alert(condition="change_24h_below", threshold=Decimal(-99) + Decimal(n) / 100)
        )
        for condition in ("enters_range", "exits_range"):
            alerts.append(Alert(condition=condition, range_low=far, range_high=far + 100))
        for condition in ("pct_step", "pct_step_up", "pct_step_down"):
            alerts.append(
                Alert(condition=condition, percent=Decimal(5), step_low=1 + n, step_high=far)
            )
    for alert in alerts:
        alert.user, alert.coin = owner, coin
    Alert.objects.bulk_create(alerts)


NEW_INDEXES = [
    "alert_armed_threshold_idx",
    "alert_armed_range_low_idx",
    "alert_armed_range_high_idx",
    "alert_armed_step_low_idx",
    "alert_armed_step_high_idx",
]


def test_the_new_conditions_probes_are_index_scans_of_their_own_indexes(bitcoin, owner):
    # Rising and falling in one test: a test's rolled-back rows stay in the
    # indexes' files, and a second test's plan would be made on them.
    many_alerts_of_each_new_condition(owner, bitcoin)

    rising = "\n".join(firing_plan(bitcoin, previous="29000", **MARKET))
    falling = "\n".join(firing_plan(bitcoin, previous="31000", **MARKET))

    # A rising price probes ranges on their low bound when entering and on
    # their high bound when leaving, a falling one the other way round.
    for plan in (rising, falling):
        for index in NEW_INDEXES:
            assert f"Index Scan using {index}" in plan, index
        assert "alerts_alert_coin_id" not in plan
        assert "Bitmap" not in plan
        assert "Seq Scan" not in plan


def buffers_of(plan: list[str], index: str) -> int:
    """The pages the scan of `index` touched (EXPLAIN's BUFFERS of its node)."""
    scans = [n for n, line in enumerate(plan) if f"Index Scan using {index}" in line]
    assert scans, f"{index} is not read:\n" + "\n".join(plan)
    line = next(line for line in plan[scans[0] :] if "Buffers:" in line)
    return sum(int(part.split("=")[1]) for part in line.split()[1:] if "=" in part)


@pytest.mark.parametrize("side", ["step_low", "step_high"])
def test_a_step_probe_reads_only_the_bands_it_reaches(bitcoin, owner, side):
    # 20,000 steps on one coin, none reached by the price (30000). With the
    # condition as the index's second column (the planner drops that qual,
    # implied by the predicate) each probe read all of their entries.
    Alert.objects.bulk_create(
        Alert(
            user=owner,
            coin=bitcoin,
            condition="pct_step",
            percent=Decimal(5),
            step_low=Decimal(1 + n % 20_000) / 1000,
            step_high=Decimal(50_000 + n),
        )
        for n in range(20_000)
    )

    plan = firing_plan(bitcoin, previous="29900", options="(ANALYZE, BUFFERS, COSTS OFF)")

    assert buffers_of(plan, f"alert_armed_{side}_idx") <= 5, "\n".join(plan)


def test_re_arming_metric_levels_is_an_index_scan_of_their_disarmed_index(bitcoin, owner):
    Alert.objects.bulk_create(
        Alert(user=owner, coin=bitcoin, condition=condition, threshold=n, armed=False)
        for n in range(1, 3001)
        for condition in ("market_cap_above", "volume_24h_below", "change_24h_above")
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE alerts_alert")
    change = PriceChange(bitcoin.pk, None, Decimal("30000"), None, timezone.now(), **MARKET)
    batch_sql, params = batch_cte([change])
    matching = " UNION ALL ".join(
        matching_part(rule.source, rule.conditions, rule.predicate, False, rule.rows)
        for rule in REARM_RULES
    )
    sql = REARM_SQL.format(batch=batch_sql, matching=matching, active="active", lock=_LOCK)

    with transaction.atomic(), connection.cursor() as cursor:
        apply_plan_settings(PLAN_SETTINGS)
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)

    assert "Index Scan using alert_disarmed_threshold_idx" in plan
    assert "Bitmap" not in plan
    assert "Seq Scan" not in plan


def setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def test_the_plan_settings_end_with_the_evaluation_inside_a_callers_transaction(bitcoin):
    # The test's transaction is the caller's: evaluate_batch's block is a savepoint.
    before = {name: setting(name) for name, _ in PLAN_SETTINGS}
    batch = [
        {
            "coin_id": bitcoin.pk,
            "tick_id": None,
            "price": "30100",
            "previous_price": "30000",
            "time": timezone.now().isoformat(),
        }
    ]

    evaluate_batch(batch)

    assert {name: setting(name) for name in before} == before


def test_the_claim_probes_only_the_matched_alerts_rows(bitcoin, owner):
    # 20,000 alerts, the 50 that match spread over the whole table: the claim
    # must look up those 50 rows, not walk the primary key from the first id
    # to the last match (a merge join did: 293 ms at 1M alerts).
    Alert.objects.bulk_create(
        Alert(
            user=owner,
            coin=bitcoin,
            condition=Condition.ABOVE,
            # Every 400th alert is below the new price: it matches.
            target=Decimal("29000") if n % 400 == 399 else Decimal(50000 + n),
        )
        for n in range(20_000)
    )
    plan = firing_plan(bitcoin, previous="29900", options="(ANALYZE, TIMING OFF, COSTS OFF)")

    primary_key_rows = [
        int(line.split("rows=")[1].split()[0]) * int(line.split("loops=")[1].rstrip(")"))
        for line in plan
        if "using alerts_alert_pkey" in line
    ]
    assert primary_key_rows, "\n".join(plan)
    assert max(primary_key_rows) <= 50, "\n".join(plan)


def test_the_currencies_in_use_are_read_by_a_skip_scan_of_their_index(bitcoin, owner):
    Alert.objects.bulk_create(
        Alert(user=owner, coin=bitcoin, condition=Condition.ABOVE, target=Decimal(40000 + n),
              currency=("usd", "eur", "btc")[n % 3])
        for n in range(3000)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE alerts_alert")
    with transaction.atomic(), connection.cursor() as cursor:
        apply_plan_settings(PLAN_SETTINGS)
        cursor.execute(f"EXPLAIN ANALYZE {CURRENCIES_IN_USE_SQL}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(CURRENCIES_IN_USE_SQL)
        used = [row[0] for row in cursor.fetchall()]

    assert used == ["btc", "eur", "usd"]
    assert "Index Only Scan using alert_active_currency_idx" in plan
    assert "Seq Scan" not in plan
