"""Alert.expired_from: the status an alert expired from, restored when an edit revives it.

Alerts already expired keep it blank (nothing recorded what they expired
from), and revive active as before. Adding a column with a constant default
is a catalogue-only change on PostgreSQL 11+: no table rewrite.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0004_fewer_writes_per_firing"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="expired_from",
            field=models.CharField(
                blank=True, choices=[("active", "Active"), ("paused", "Paused")], max_length=20
            ),
        ),
    ]
