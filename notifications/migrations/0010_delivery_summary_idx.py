"""delivery_summary_idx, built CONCURRENTLY in a migration of its own.

In 0009's transaction the ADD COLUMN holds an ACCESS EXCLUSIVE lock on the
delivery table until commit, so an index built there would block the
evaluator's delivery INSERTs for as long as it scans the table. IF NOT
EXISTS: an early 0009 built it in place, and such a database skips it.
"""

from django.db import migrations, models

FORWARD = [
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "delivery_summary_idx" '
    'ON "notifications_delivery" ("summary_id") WHERE "summary_id" IS NOT NULL'
]
BACKWARD = ['DROP INDEX CONCURRENTLY IF EXISTS "delivery_summary_idx"']


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("notifications", "0009_delivery_summary"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AddIndex(
                    model_name="delivery",
                    index=models.Index(
                        condition=models.Q(("summary__isnull", False)),
                        fields=["summary"],
                        name="delivery_summary_idx",
                    ),
                ),
            ],
        ),
    ]
