"""The beat schedule's one place: cryptomonitor/schedule.py, run by `manage.py ensure_schedule`."""

import io

import pytest
from django.core.management import call_command
from django_celery_beat.models import (
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)

from cryptomonitor.celery import app

pytestmark = pytest.mark.django_db

EVERY_TASK = {
    ("Poll prices", "prices.tasks.poll_prices"),
    ("Fetch exchange rates", "prices.tasks.fetch_exchange_rates"),
    ("Purge old price ticks", "prices.tasks.purge_old_ticks"),
    ("Expire alerts past their expiry", "alerts.tasks.expire_alerts"),
    ("notifications: sweep deliveries", "notifications.tasks.sweep_deliveries"),
    ("Count active alerts for the metrics", "alerts.tasks.count_active_alerts"),
    ("Send due scheduled summaries", "summaries.tasks.send_due_summaries"),
}


@pytest.fixture
def empty_schedule():
    # A database whose migrations created no schedule (and a test database
    # other tests may have left tasks in).
    PeriodicTask.objects.all().delete()
    IntervalSchedule.objects.all().delete()
    CrontabSchedule.objects.all().delete()


def ensure_schedule() -> None:
    call_command("ensure_schedule", stdout=io.StringIO())


def schedule_of(name: str) -> tuple:
    task = PeriodicTask.objects.select_related("interval", "crontab").get(name=name)
    if task.interval is not None:
        return (task.interval.every, task.interval.period, task.expire_seconds, task.enabled)
    return (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone), task.enabled)


def test_ensure_schedule_creates_every_periodic_task_on_an_empty_database(settings, empty_schedule):
    settings.PRICE_POLL_SECONDS = 10

    ensure_schedule()

    assert set(PeriodicTask.objects.values_list("name", "task")) == EVERY_TASK
    assert schedule_of("Poll prices") == (10, "seconds", 10, True)
    assert schedule_of("Fetch exchange rates") == (300, "seconds", 300, True)
    assert schedule_of("Purge old price ticks") == ("3", "17", "UTC", True)
    assert schedule_of("Expire alerts past their expiry") == (60, "seconds", None, True)
    assert schedule_of("notifications: sweep deliveries") == (30, "seconds", None, True)
    assert schedule_of("Count active alerts for the metrics") == (30, "seconds", 30, True)
    assert schedule_of("Send due scheduled summaries") == ("*", "*", "UTC", True)


def test_every_scheduled_task_is_a_registered_celery_task(empty_schedule):
    ensure_schedule()
    app.loader.import_default_modules()

    assert {task for _name, task in EVERY_TASK} <= set(app.tasks)


def test_ensuring_the_schedule_twice_changes_nothing(empty_schedule):
    ensure_schedule()
    before = list(PeriodicTask.objects.order_by("pk").values())
    schedules = (IntervalSchedule.objects.count(), CrontabSchedule.objects.count())

    ensure_schedule()

    assert list(PeriodicTask.objects.order_by("pk").values()) == before
    assert (IntervalSchedule.objects.count(), CrontabSchedule.objects.count()) == schedules


def test_ensure_schedule_follows_a_changed_poll_interval(settings, empty_schedule):
    ensure_schedule()
    settings.PRICE_POLL_SECONDS = 45

    ensure_schedule()

    assert schedule_of("Poll prices") == (45, "seconds", 45, True)


def test_ensure_schedule_corrects_an_interval_changed_behind_its_back(empty_schedule):
    ensure_schedule()
    every_hour, _ = IntervalSchedule.objects.get_or_create(every=3600, period="seconds")
    PeriodicTask.objects.filter(task="notifications.tasks.sweep_deliveries").update(
        interval=every_hour
    )

    ensure_schedule()

    assert schedule_of("notifications: sweep deliveries") == (30, "seconds", None, True)


def test_ensure_schedule_leaves_a_task_disabled_in_the_admin_disabled(empty_schedule):
    ensure_schedule()
    PeriodicTask.objects.filter(name="Expire alerts past their expiry").update(enabled=False)

    ensure_schedule()

    assert not PeriodicTask.objects.get(name="Expire alerts past their expiry").enabled


def test_ensure_schedule_tells_a_running_beat_to_reload(empty_schedule):
    ensure_schedule()
    seen = PeriodicTasks.last_change()
    PeriodicTask.objects.filter(name="Poll prices").update(expire_seconds=None)

    ensure_schedule()

    assert PeriodicTasks.last_change() > seen
