"""Conditions beyond the price: market cap, volume and 24 h change thresholds, ranges, steps.

New nullable columns without defaults, so PostgreSQL adds them to the
catalogue only (no table rewrite, a brief lock); the condition's new choices
change nothing in the database. Their indexes come in 0008, built
concurrently.
"""

import alerts.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0006_expired_from_db_default"),
    ]

    operations = [
        migrations.AddField(
            model_name='alert',
            name='range_high',
            field=models.DecimalField(blank=True, decimal_places=14, error_messages={'invalid': 'Enter the price as a plain number, e.g. 30000 or 0.00012.'}, max_digits=26, null=True, validators=[alerts.models.validate_positive_price]),
        ),
        migrations.AddField(
            model_name='alert',
            name='range_low',
            field=models.DecimalField(blank=True, decimal_places=14, error_messages={'invalid': 'Enter the price as a plain number, e.g. 30000 or 0.00012.'}, max_digits=26, null=True, validators=[alerts.models.validate_positive_price]),
        ),
        migrations.AddField(
            model_name='alert',
            name='step_high',
            field=models.DecimalField(blank=True, decimal_places=14, editable=False, max_digits=30, null=True),
        ),
        migrations.AddField(
            model_name='alert',
            name='step_low',
            field=models.DecimalField(blank=True, decimal_places=14, editable=False, max_digits=26, null=True),
        ),
        migrations.AddField(
            model_name='alert',
            name='step_reference',
            field=models.DecimalField(blank=True, decimal_places=14, editable=False, max_digits=26, null=True),
        ),
        migrations.AddField(
            model_name='alert',
            name='step_reference_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='alert',
            name='threshold',
            field=models.DecimalField(blank=True, decimal_places=14, error_messages={'invalid': 'Enter the threshold as a plain number, e.g. 1000000000 or -5.'}, max_digits=30, null=True),
        ),
        migrations.AlterField(
            model_name='alert',
            name='condition',
            field=models.CharField(choices=[('above', 'price is at or above'), ('below', 'price is at or below'), ('crosses_up', 'price crosses up through'), ('crosses_down', 'price crosses down through'), ('crosses', 'price crosses'), ('pct_up', 'price rises by'), ('pct_down', 'price falls by'), ('pct_move', 'price moves by'), ('market_cap_above', 'market cap is at or above'), ('market_cap_below', 'market cap is at or below'), ('market_cap_crosses', 'market cap crosses'), ('volume_24h_above', '24 h volume is at or above'), ('volume_24h_below', '24 h volume is at or below'), ('change_24h_above', '24 h change is at or above'), ('change_24h_below', '24 h change is at or below'), ('enters_range', 'price enters the range'), ('exits_range', 'price exits the range'), ('pct_step', 'price moves by a step of'), ('pct_step_up', 'price rises by a step of'), ('pct_step_down', 'price falls by a step of')], max_length=20),
        ),
    ]
