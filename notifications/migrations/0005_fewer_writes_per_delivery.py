"""Fewer writes per delivery row: the evaluator inserts two per fired alert.

- notifications_delivery.user_id loses its own index (delivery_user_idx
  (user, -created_at) leads with it); it keeps its database constraint (see
  Delivery.user).
- digest_id's index becomes partial (delivery_digest_idx, only where set).

Only these indexes are dropped; Django's own AlterField would also drop and
re-add the foreign keys, re-validating every row under a lock.

The migration is not atomic, so that delivery_digest_idx is built
CONCURRENTLY: a plain CREATE INDEX blocks the evaluator's INSERTs into the
table for the whole build (a failed build leaves an INVALID index: drop it
before migrating again).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FORWARD = [
    'DROP INDEX IF EXISTS "notifications_delivery_user_id_70f8752d"',
    'DROP INDEX IF EXISTS "notifications_delivery_digest_id_315052ac"',
]
BACKWARD = [
    'CREATE INDEX IF NOT EXISTS "notifications_delivery_user_id_70f8752d" '
    'ON "notifications_delivery" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "notifications_delivery_digest_id_315052ac" '
    'ON "notifications_delivery" ("digest_id")',
]
DIGEST_INDEX = models.Index(
    condition=models.Q(("digest__isnull", False)),
    fields=["digest"],
    name="delivery_digest_idx",
)
CREATE_DIGEST_INDEX = [
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "delivery_digest_idx" '
    'ON "notifications_delivery" ("digest_id") WHERE "digest_id" IS NOT NULL'
]
DROP_DIGEST_INDEX = ['DROP INDEX CONCURRENTLY IF EXISTS "delivery_digest_idx"']


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("alerts", "0004_fewer_writes_per_firing"),
        ("notifications", "0004_delivery_claim_token"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name="digest",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="deliveries",
                        to="notifications.emaildigest",
                    ),
                ),
                migrations.AlterField(
                    model_name="delivery",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(CREATE_DIGEST_INDEX, DROP_DIGEST_INDEX)],
            state_operations=[migrations.AddIndex(model_name="delivery", index=DIGEST_INDEX)],
        ),
    ]
