# This migration once scheduled the delivery sweeper; cryptomonitor/schedule.py
# (`manage.py ensure_schedule`, run at start) now does. Kept without
# operations: databases have it applied and later migrations depend on it.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_email_digest_and_inbox_delivery"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = []
