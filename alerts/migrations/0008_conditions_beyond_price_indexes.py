"""The new conditions' partial indexes, built CONCURRENTLY.

Each covers only its conditions' active alerts, so at first it is empty;
building it still reads the whole table, and a plain CREATE INDEX would
block the evaluator's claims on alerts_alert for as long (seconds at a
million alerts). CONCURRENTLY cannot run in a transaction: atomic = False.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("alerts", "0007_conditions_beyond_price"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='alert',
            index=models.Index(condition=models.Q(('armed', True), ('condition__in', ['change_24h_above', 'change_24h_below', 'market_cap_above', 'market_cap_below', 'market_cap_crosses', 'volume_24h_above', 'volume_24h_below']), ('status', 'active')), fields=['coin', 'condition', 'threshold'], name='alert_armed_threshold_idx'),
        ),
        AddIndexConcurrently(
            model_name='alert',
            index=models.Index(condition=models.Q(('armed', False), ('condition__in', ['change_24h_above', 'change_24h_below', 'market_cap_above', 'market_cap_below', 'volume_24h_above', 'volume_24h_below']), ('status', 'active')), fields=['coin', 'condition', 'threshold'], name='alert_disarmed_threshold_idx'),
        ),
        AddIndexConcurrently(
            model_name='alert',
            index=models.Index(condition=models.Q(('armed', True), ('condition__in', ['enters_range', 'exits_range']), ('status', 'active')), fields=['coin', 'condition', 'range_low', 'range_high'], name='alert_armed_range_low_idx'),
        ),
        AddIndexConcurrently(
            model_name='alert',
            index=models.Index(condition=models.Q(('armed', True), ('condition__in', ['enters_range', 'exits_range']), ('status', 'active')), fields=['coin', 'condition', 'range_high', 'range_low'], name='alert_armed_range_high_idx'),
        ),
        AddIndexConcurrently(
            model_name='alert',
            index=models.Index(condition=models.Q(('armed', True), ('condition__in', ['pct_step', 'pct_step_down']), ('status', 'active')), fields=['coin', 'condition', 'step_low'], name='alert_armed_step_low_idx'),
        ),
        AddIndexConcurrently(
            model_name='alert',
            index=models.Index(condition=models.Q(('armed', True), ('condition__in', ['pct_step', 'pct_step_up']), ('status', 'active')), fields=['coin', 'condition', 'step_high'], name='alert_armed_step_high_idx'),
        ),
    ]
