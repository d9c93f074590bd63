"""The preview's history rows and alert row carry what the live rules read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from alerts.matching import BATCH_COLUMNS, MATCH_RULES, REARM_RULES
from alerts.models import Alert
from alerts.preview import history_expression, live_columns, referenced_columns


def test_every_column_a_rule_reads_has_a_history_expression():
    for rule in (*MATCH_RULES, *REARM_RULES):
        for column in referenced_columns([rule]):
            assert column in live_columns(), (rule, column)
            assert history_expression(column, "1h"), (rule, column)


def test_the_history_rows_have_the_live_batch_rows_types():
    types = live_columns()
    for name, kind in BATCH_COLUMNS:
        assert types[name] == kind
    assert {"rise", "fall", "swing", "win"} <= set(types)


@pytest.mark.django_db
def test_the_alert_row_has_the_alert_tables_columns_and_the_unsaved_values(owner, bitcoin):
    from alerts.preview import alert_values

    alert = Alert(user=owner, coin=bitcoin, condition="below", target=Decimal("123.45"))
    cte, params = alert_values(alert)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {cte} SELECT * FROM a", params)  # noqa: S608
        names = [column.name for column in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
    assert names == [field.column for field in Alert._meta.concrete_fields]
    assert (row["condition"], row["target"], row["coin_id"]) == (
        "below",
        Decimal("123.45"),
        bitcoin.pk,
    )
