"""The matching indexes with the alert's currency after the coin, and the currencies' index.

Each batch is matched per coin and currency (alerts.matching), so each probe
needs the currency as a bound. Every index is rebuilt CONCURRENTLY under a
temporary name, the old one dropped, the new one renamed: the evaluator
always has an index to probe (a plain CREATE INDEX would block its claims,
and dropping first would leave it scanning the table meanwhile).

It can run again after a failure part way (a CONCURRENTLY build that failed
leaves an INVALID index; a crash may come between a drop and a rename): each
step drops what it is about to create, IF EXISTS, and the old index is
dropped IF EXISTS. It cannot be reversed.

Deploy order: migrate, then restart every Celery worker on the new code,
then the web processes. A worker still on the code before this matches on
the coin alone, so it would fire an alert set in EUR against the base price;
the web processes are what let people set one (docs/operations.md).
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

METRIC_CONDITIONS = [
    "change_24h_above",
    "change_24h_below",
    "market_cap_above",
    "market_cap_below",
    "market_cap_crosses",
    "volume_24h_above",
    "volume_24h_below",
]
METRIC_LEVEL_CONDITIONS = [c for c in METRIC_CONDITIONS if c != "market_cap_crosses"]
RANGE_CONDITIONS = ["enters_range", "exits_range"]

# (name, fields after coin and currency, armed, conditions or None)
MATCHING_INDEXES = [
    ("alert_armed_target_idx", ["condition", "target"], True, None),
    ("alert_armed_percent_idx", ["condition", "window", "percent"], True, None),
    ("alert_disarmed_target_idx", ["condition", "target"], False, None),
    ("alert_armed_threshold_idx", ["condition", "threshold"], True, METRIC_CONDITIONS),
    ("alert_disarmed_threshold_idx", ["condition", "threshold"], False, METRIC_LEVEL_CONDITIONS),
    ("alert_armed_range_low_idx", ["condition", "range_low", "range_high"], True, RANGE_CONDITIONS),
    ("alert_armed_range_high_idx", ["condition", "range_high", "range_low"], True, RANGE_CONDITIONS),
    ("alert_armed_step_low_idx", ["step_low"], True, ["pct_step", "pct_step_down"]),
    ("alert_armed_step_high_idx", ["step_high"], True, ["pct_step", "pct_step_up"]),
]


def rebuilt(name, fields, armed, conditions):
    condition = [("armed", armed), ("status", "active")]
    if conditions:
        condition.insert(1, ("condition__in", conditions))
    temporary = name.removesuffix("_idx") + "_cur"
    return [
        migrations.RunSQL(f"DROP INDEX CONCURRENTLY IF EXISTS {temporary}", None),
        AddIndexConcurrently(
            model_name="alert",
            index=models.Index(
                condition=models.Q(*condition),
                fields=["coin", "currency", *fields],
                name=temporary,
            ),
        ),
        migrations.RunSQL(
            f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
            None,
            state_operations=[migrations.RemoveIndex(model_name="alert", name=name)],
        ),
        migrations.RenameIndex(model_name="alert", new_name=name, old_name=temporary),
    ]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("alerts", "0010_alert_currency"),
    ]

    operations = [
        *(operation for index in MATCHING_INDEXES for operation in rebuilt(*index)),
        migrations.RunSQL("DROP INDEX CONCURRENTLY IF EXISTS alert_active_currency_idx", None),
        AddIndexConcurrently(
            model_name="alert",
            index=models.Index(
                condition=models.Q(("status", "active")),
                fields=["currency"],
                name="alert_active_currency_idx",
            ),
        ),
    ]
