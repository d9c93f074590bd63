from django.db import migrations


def create_schedule(apps, schema_editor):
    from prices.schedule import ensure_schedule

    ensure_schedule(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("prices", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
