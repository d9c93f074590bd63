"""AlertEvent.coin gets its database constraint back (0004 dropped it).

0004 reasoned that the alert row's constraint guarantees the event's coin,
but an alert's coin is the owner's to edit (OWNER_FIELDS): an event keeps the
coin it fired on, which can differ from its alert's, and a raw DELETE FROM
prices_coin would leave it pointing at nothing.

On PostgreSQL the constraint is added NOT VALID (a brief lock, no scan) and
validated in its own transaction (the migration is not atomic), which scans
the table without blocking the evaluator's inserts. SQLite never lost it
(0004 ran on PostgreSQL only).
"""

import django.db.models.deletion
from django.db import migrations, models

from cryptomonitor.migration_ops import postgresql_only

CONSTRAINT = "alerts_alertevent_coin_id_f6cbe53d_fk_prices_coin_id"
FORWARD = [
    f'ALTER TABLE "alerts_alertevent" ADD CONSTRAINT "{CONSTRAINT}" FOREIGN KEY ("coin_id") '
    'REFERENCES "prices_coin" ("id") DEFERRABLE INITIALLY DEFERRED NOT VALID',
    f'ALTER TABLE "alerts_alertevent" VALIDATE CONSTRAINT "{CONSTRAINT}"',
]
BACKWARD = [f'ALTER TABLE "alerts_alertevent" DROP CONSTRAINT IF EXISTS "{CONSTRAINT}"']


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("alerts", "0004_fewer_writes_per_firing"),
        ("prices", "0003_coin_tracked_by_setting"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[postgresql_only(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="alertevent",
                    name="coin",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="alert_events",
                        to="prices.coin",
                    ),
                ),
            ],
        ),
    ]
