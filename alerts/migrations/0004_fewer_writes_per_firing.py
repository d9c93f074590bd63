"""Fewer writes per fired alert: two redundant indexes.

- alerts_alert.user_id loses its own index: alert_user_status_idx (user,
  status) leads with it, and a firing's status change (never a HOT update)
  inserts into every index of the row.
- alerts_alertevent.alert_id loses its own index: alertevent_alert_idx
  (alert, -triggered_at) leads with it.

Only the indexes are dropped; Django's own AlterField would also drop and
re-add the other foreign keys, re-validating every row of the table under a
lock that stops the evaluator.

AlertEvent.coin keeps its database constraint: an alert's coin is editable,
so an event's coin can differ from its alert's and nothing else pins it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FORWARD = [
    'DROP INDEX IF EXISTS "alerts_alert_user_id_f5648313"',
    'DROP INDEX IF EXISTS "alerts_alertevent_alert_id_edd734b8"',
]
BACKWARD = [
    'CREATE INDEX IF NOT EXISTS "alerts_alert_user_id_f5648313" ON "alerts_alert" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "alerts_alertevent_alert_id_edd734b8" '
    'ON "alerts_alertevent" ("alert_id")',
]


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_expire_alerts_schedule"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="alert",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="alerts",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="alertevent",
                    name="alert",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="alerts.alert",
                    ),
                ),
            ],
        ),
    ]
