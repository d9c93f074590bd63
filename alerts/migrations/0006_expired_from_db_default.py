"""Alert.expired_from: blank by default in the database, as on the model.

0005 added the column NOT NULL with no database default, so an INSERT that
does not name it failed: the code before 0005 after a rollback of the code
(not the schema), or a raw COPY. SET DEFAULT on PostgreSQL changes only the
catalogue (no rewrite, a brief lock); SQLite rebuilds the table.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0005_alert_expired_from"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="expired_from",
            field=models.CharField(
                blank=True,
                choices=[("active", "Active"), ("paused", "Paused")],
                db_default="",
                default="",
                max_length=20,
            ),
        ),
    ]
