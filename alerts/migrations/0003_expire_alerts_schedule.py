"""Schedule alerts.tasks.expire_alerts every minute in Celery beat (django-celery-beat)."""

from django.db import migrations

TASK_NAME = "Expire alerts past their expiry"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    # update_or_create: running the migration again (or after an edit in the
    # admin) leaves exactly one task.
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={"task": "alerts.tasks.expire_alerts", "interval": every_minute, "enabled": True},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_armed_indexes_and_validation"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
