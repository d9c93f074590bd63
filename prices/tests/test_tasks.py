import importlib
import io
import time
import uuid

import pytest
import redis
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from cryptomonitor.testing.celery_worker import start_celery_worker
from prices.models import PriceTick
from prices.schedule import POLL_TASK_NAME, PURGE_TASK_NAME, ensure_schedule
from prices.tasks import poll_prices, purge_old_ticks

pytestmark = pytest.mark.django_db


@pytest.fixture
def migrated_schedule():
    """Run the schedule migration on its historical models, as `migrate` does.

    A fresh schedule every time: transactional tests elsewhere flush the
    tables a reused test database was migrated with.
    """
    PeriodicTask.objects.all().delete()
    IntervalSchedule.objects.all().delete()
    migration = importlib.import_module("prices.migrations.0002_beat_schedule")
    state = MigrationLoader(connection).project_state(("prices", "0002_beat_schedule"))
    migration.create_schedule(state.apps, None)


def test_migrate_creates_the_beat_schedule(settings, migrated_schedule):
    poll = PeriodicTask.objects.get(name=POLL_TASK_NAME)
    purge = PeriodicTask.objects.get(name=PURGE_TASK_NAME)

    assert poll.task == "prices.tasks.poll_prices"
    assert (poll.interval.every, poll.interval.period) == (settings.PRICE_POLL_SECONDS, "seconds")
    assert poll.expire_seconds == settings.PRICE_POLL_SECONDS
    assert poll.enabled
    assert purge.task == "prices.tasks.purge_old_ticks"
    assert (purge.crontab.hour, purge.crontab.minute) == ("3", "17")


def test_ensuring_the_schedule_twice_changes_nothing(migrated_schedule):
    before = list(PeriodicTask.objects.values_list("pk", "name", "interval", "crontab"))

    ensure_schedule()
    ensure_schedule()

    assert list(PeriodicTask.objects.values_list("pk", "name", "interval", "crontab")) == before
    assert IntervalSchedule.objects.count() == 1


def test_ensure_schedule_follows_a_changed_poll_interval(settings, migrated_schedule):
    settings.PRICE_POLL_SECONDS = 30

    call_command("ensure_schedule", stdout=io.StringIO())

    poll = PeriodicTask.objects.get(name=POLL_TASK_NAME)
    assert poll.interval.every == 30
    assert poll.expire_seconds == 30


def test_ensure_schedule_leaves_a_task_disabled_in_the_admin_disabled(migrated_schedule):
    PeriodicTask.objects.filter(name=POLL_TASK_NAME).update(enabled=False)

    ensure_schedule()

    assert not PeriodicTask.objects.get(name=POLL_TASK_NAME).enabled


def test_the_poll_task_polls_and_says_what_it_stored(settings):
    settings.PRICE_SOURCE = "simulated"

    summary = poll_prices.apply().get()

    assert summary == "10 requested, 10 new ticks, 10 changed, 0 rejected"
    assert PriceTick.objects.count() == 10


def test_the_purge_task_reports_what_it_deleted():
    assert purge_old_ticks.apply().get() == {"ticks": 0, "minute_rollups": 0}


@pytest.fixture
def celery_worker_queue(settings):
    """A real `celery worker` on a queue of its own, using this test's database."""
    queue = f"test-prices-{uuid.uuid4().hex[:8]}"
    process = start_celery_worker(queue, PRICE_SOURCE="simulated")
    yield queue
    process.kill()
    process.wait(timeout=10)
    redis.Redis.from_url(settings.REDIS_URL).delete(queue, "celery")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_poll_task(celery_worker_queue):
    poll_prices.apply_async(queue=celery_worker_queue)

    deadline = time.monotonic() + 60
    while PriceTick.objects.count() < 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert PriceTick.objects.count() == 10
    assert set(PriceTick.objects.values_list("source", flat=True)) == {"simulated"}
