import time
import uuid

import pytest
import redis

from prices.models import PriceTick
from prices.tasks import poll_prices, purge_old_ticks
from tests_support.celery_worker import start_celery_worker

pytestmark = pytest.mark.django_db


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
