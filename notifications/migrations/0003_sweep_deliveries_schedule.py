"""Schedule the delivery sweeper (notifications.tasks.sweep_deliveries) every 30 s."""

from django.db import migrations

TASK_NAME = "notifications: sweep deliveries"


def schedule_sweeper(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # get_or_create on both: running the migration again changes nothing.
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "notifications.tasks.sweep_deliveries",
            "interval": every_30s,
            "description": "Re-enqueue deliveries whose task was lost or whose worker died.",
        },
    )


def unschedule_sweeper(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_email_digest_and_inbox_delivery"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_sweeper, unschedule_sweeper)]
