"""Alerts set in a currency, and the rate each event was converted with.

Existing alerts and events are in the base currency (VS_CURRENCY when this
runs) at rate 1. Adding a column with a constant default rewrites no rows.
The columns keep those defaults in the database too, so an INSERT that does
not name them still works: the code before this migration, still running on
a node during a rolling upgrade (its evaluator writes events), or a raw COPY.
"""

from decimal import Decimal

from django.conf import settings
from django.db import migrations, models

import common.display_currencies


def database_defaults(apps, schema_editor):
    # The settings allow only 2 to 10 ASCII letters: safe to write in.
    base = settings.VS_CURRENCY
    assert base.isascii() and base.isalpha()
    for table in ("alerts_alert", "alerts_alertevent"):
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN currency SET DEFAULT '{base}'")


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0009_step_indexes_without_condition"),
        ("prices", "0005_exchange_rate"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="currency",
            field=models.CharField(
                default=common.display_currencies.base_currency,
                max_length=10,
                validators=[common.display_currencies.validate_display_currency],
            ),
        ),
        migrations.AddField(
            model_name="alertevent",
            name="currency",
            field=models.CharField(default=common.display_currencies.base_currency, max_length=10),
        ),
        migrations.AddField(
            model_name="alertevent",
            name="exchange_rate",
            field=models.DecimalField(
                decimal_places=20, db_default=Decimal("1"), default=Decimal("1"), max_digits=36
            ),
        ),
        migrations.RunPython(database_defaults, migrations.RunPython.noop, elidable=False),
    ]
