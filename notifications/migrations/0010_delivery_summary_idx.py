"""delivery_summary_idx, built CONCURRENTLY in a migration of its own.

In 0009's transaction the ADD COLUMN holds an ACCESS EXCLUSIVE lock on the
delivery table until commit, so an index built there would block the
evaluator's delivery INSERTs for as long as it scans the table.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("notifications", "0009_delivery_summary"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("summary__isnull", False)),
                fields=["summary"],
                name="delivery_summary_idx",
            ),
        ),
    ]
