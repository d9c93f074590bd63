"""Every periodic task of CryptoMonitor, in django-celery-beat's tables.

The one place that creates and corrects the beat schedule: `manage.py
ensure_schedule` runs it at start (docker/entrypoint.sh, `make run`), so a new
task or a changed PRICE_POLL_SECONDS takes effect on restart. Only the task,
its schedule and its expiry are enforced: whether a task is enabled stays the
admin's choice. Tasks are named by string; the one app constant read is how often
the metrics count active alerts, which alerts.metrics relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from alerts.metrics import COUNT_EVERY_SECONDS

POLL_TASK_NAME = "Poll prices"
RATES_TASK_NAME = "Fetch exchange rates"
PURGE_TASK_NAME = "Purge old price ticks"
EXPIRE_TASK_NAME = "Expire alerts past their expiry"
SWEEP_TASK_NAME = "notifications: sweep deliveries"
COUNT_ALERTS_TASK_NAME = "Count active alerts for the metrics"
SUMMARIES_TASK_NAME = "Send due scheduled summaries"
# Off the hour, when nothing else runs; UTC like everything else here.
NIGHTLY = {"minute": "17", "hour": "3", "timezone": "UTC"}
# At the start of every minute, so a summary set for 08:00 goes at 08:00.
EVERY_MINUTE = {"minute": "*", "hour": "*", "timezone": "UTC"}


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: int | None = None
    crontab: dict[str, str] | None = None
    expire_seconds: int | None = None
    description: str = ""


def periodic_tasks() -> list[Periodic]:
    """The schedule as the settings want it now."""
    poll = settings.PRICE_POLL_SECONDS
    return [
        # A poll not started within one interval is superseded by the next.
        Periodic(
            POLL_TASK_NAME, "prices.tasks.poll_prices", every_seconds=poll, expire_seconds=poll
        ),
        Periodic(
            RATES_TASK_NAME,
            "prices.tasks.fetch_exchange_rates",
            every_seconds=settings.EXCHANGE_RATES_SECONDS,
            expire_seconds=settings.EXCHANGE_RATES_SECONDS,
            description="CoinGecko's exchange rates, to show prices in each display currency.",
        ),
        Periodic(PURGE_TASK_NAME, "prices.tasks.purge_old_ticks", crontab=NIGHTLY),
        Periodic(EXPIRE_TASK_NAME, "alerts.tasks.expire_alerts", every_seconds=60),
        Periodic(
            SWEEP_TASK_NAME,
            "notifications.tasks.sweep_deliveries",
            every_seconds=30,
            description="Re-enqueue deliveries whose task was lost or whose worker died.",
        ),
        Periodic(
            COUNT_ALERTS_TASK_NAME,
            "alerts.tasks.count_active_alerts",
            every_seconds=COUNT_EVERY_SECONDS,
            expire_seconds=COUNT_EVERY_SECONDS,
            description="Active alerts per coin and condition, for /metrics.",
        ),
        # A run not started within its minute is superseded by the next,
        # which catches up on whatever the missed one would have sent.
        Periodic(
            SUMMARIES_TASK_NAME,
            "summaries.tasks.send_due_summaries",
            crontab=EVERY_MINUTE,
            expire_seconds=60,
            description="Claim the scheduled summaries due and queue their deliveries.",
        ),
    ]


@transaction.atomic
def ensure_schedule() -> None:
    """Create or correct every periodic task; safe to run any number of times.

    Saving a task through the model tells a running beat to reload.
    """
    for periodic in periodic_tasks():
        _ensure_task(periodic)


def _ensure_task(periodic: Periodic) -> None:
    interval = crontab = None
    if periodic.every_seconds is not None:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=periodic.every_seconds, period=IntervalSchedule.SECONDS
        )
    if periodic.crontab is not None:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            day_of_week="*", day_of_month="*", month_of_year="*", **periodic.crontab
        )
    wanted = {
        "task": periodic.task,
        "interval": interval,
        "crontab": crontab,
        "expire_seconds": periodic.expire_seconds,
    }
    existing = PeriodicTask.objects.filter(name=periodic.name).first()
    if existing is None:
        PeriodicTask.objects.create(
            name=periodic.name, enabled=True, description=periodic.description, **wanted
        )
    elif any(getattr(existing, field) != value for field, value in wanted.items()):
        for field, value in wanted.items():
            setattr(existing, field, value)
        existing.save()
