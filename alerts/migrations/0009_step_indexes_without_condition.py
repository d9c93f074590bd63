"""The step indexes on (coin, step_low) and (coin, step_high), without the condition.

A step probe asks for both conditions of its side (pct_step and
pct_step_down, or pct_step and pct_step_up), which is exactly the indexes'
predicate, so the planner drops that qual: with the condition as the index's
second column, step_low was then no bound of the scan, and each probe read
every step alert of its coin (12 ms a batch at a million alerts, growing
with them). Both are rebuilt CONCURRENTLY, as in 0008.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("alerts", "0008_conditions_beyond_price_indexes"),
    ]

    operations = [
        RemoveIndexConcurrently(model_name="alert", name="alert_armed_step_low_idx"),
        RemoveIndexConcurrently(model_name="alert", name="alert_armed_step_high_idx"),
        AddIndexConcurrently(
            model_name="alert",
            index=models.Index(
                condition=models.Q(
                    ("armed", True),
                    ("condition__in", ["pct_step", "pct_step_down"]),
                    ("status", "active"),
                ),
                fields=["coin", "step_low"],
                name="alert_armed_step_low_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="alert",
            index=models.Index(
                condition=models.Q(
                    ("armed", True),
                    ("condition__in", ["pct_step", "pct_step_up"]),
                    ("status", "active"),
                ),
                fields=["coin", "step_high"],
                name="alert_armed_step_high_idx",
            ),
        ),
    ]
