"""The beat schedule of the price pipeline, kept in django-celery-beat's tables.

Created by a migration and re-ensured by `manage.py ensure_schedule` at start,
so a changed PRICE_POLL_SECONDS takes effect on restart. Only the schedule
and the task name are enforced: whether a task is enabled stays the admin's
choice.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.conf import settings
from django.utils import timezone

POLL_TASK_NAME = "Poll prices"
PURGE_TASK_NAME = "Purge old price ticks"


def ensure_schedule(apps=global_apps) -> None:
    """Create or correct the two periodic tasks; safe to run any number of times.

    `apps` is the migration's historical registry inside a migration.
    """
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")

    every, _ = interval_model.objects.get_or_create(
        every=settings.PRICE_POLL_SECONDS, period="seconds"
    )
    # Off the hour, when nothing else runs; UTC like everything else here.
    nightly, _ = crontab_model.objects.get_or_create(
        minute="17",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    _ensure_task(
        task_model,
        POLL_TASK_NAME,
        "prices.tasks.poll_prices",
        interval=every,
        # A poll not started within one interval is superseded by the next.
        expire_seconds=settings.PRICE_POLL_SECONDS,
    )
    _ensure_task(task_model, PURGE_TASK_NAME, "prices.tasks.purge_old_ticks", crontab=nightly)
    # Tell a running beat to reload (historical models send no signals).
    tracker = apps.get_model("django_celery_beat", "PeriodicTasks")
    tracker.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def _ensure_task(
    task_model,
    name: str,
    task: str,
    *,
    interval=None,
    crontab=None,
    expire_seconds: int | None = None,
) -> None:
    wanted = {
        "task": task,
        "interval": interval,
        "crontab": crontab,
        "expire_seconds": expire_seconds,
    }
    existing = task_model.objects.filter(name=name).first()
    if existing is None:
        task_model.objects.create(name=name, enabled=True, **wanted)
    elif any(getattr(existing, field) != value for field, value in wanted.items()):
        for field, value in wanted.items():
            setattr(existing, field, value)
        existing.save()
