"""Delivery.user gets its database constraint back (0005 dropped it).

0005 reasoned that the alert row's constraint guarantees the delivery's user,
but test deliveries have no alert and the admin can move an alert to another
user while its old deliveries keep theirs: a raw DELETE FROM auth_user could
leave deliveries pointing at nobody.

On PostgreSQL the constraint is added NOT VALID (a brief lock, no scan) and
validated in its own transaction (the migration is not atomic), which scans
the table without blocking the evaluator's inserts. SQLite never lost it
(0005 dropped it on PostgreSQL only).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from cryptomonitor.migration_ops import postgresql_only

CONSTRAINT = "notifications_delivery_user_id_70f8752d_fk_auth_user_id"
FORWARD = [
    f'ALTER TABLE "notifications_delivery" ADD CONSTRAINT "{CONSTRAINT}" '
    'FOREIGN KEY ("user_id") REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED '
    "NOT VALID",
    f'ALTER TABLE "notifications_delivery" VALIDATE CONSTRAINT "{CONSTRAINT}"',
]
BACKWARD = [f'ALTER TABLE "notifications_delivery" DROP CONSTRAINT IF EXISTS "{CONSTRAINT}"']


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("notifications", "0005_fewer_writes_per_delivery"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[postgresql_only(FORWARD, BACKWARD)],
            state_operations=[
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
    ]
