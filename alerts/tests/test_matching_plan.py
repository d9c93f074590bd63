"""The matching probes' plan on PostgreSQL: plain index scans, never bitmap or sequential scans."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from alerts.claiming import claim_statement
from alerts.evaluation import PLAN_SETTINGS, _apply_settings, evaluate_batch
from alerts.matching import PriceChange
from alerts.models import Alert, Condition

pytestmark = pytest.mark.django_db


def firing_plan(coin, previous: str, options: str = "") -> list[str]:
    """EXPLAIN `options` of FIRE_SQL for `coin` moving from `previous` to 30000, rolled back."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE alerts_alert")
    now = timezone.now()
    change = PriceChange(coin.pk, None, Decimal("30000"), Decimal(previous), now)
    sql, params = claim_statement([change], [], now - timedelta(seconds=1))
    with transaction.atomic(), connection.cursor() as cursor:
        _apply_settings(PLAN_SETTINGS)
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
