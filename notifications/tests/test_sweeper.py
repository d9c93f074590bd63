"""The sweeper: lost tasks and dead workers never lose a notification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cryptomonitor.celery import app as celery_app
from notifications.delivery import sweep
from notifications.models import Delivery, DeliveryStatus
from notifications.outbox import ENQUEUE_CHUNK
from notifications.tests.conftest import queued_delivery_ids, wait_for

pytestmark = pytest.mark.django_db


def age(delivery: Delivery, seconds: float) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_it_requeues_a_pending_delivery_whose_task_was_lost(owner, fire, private_celery_queue):
    [delivery] = fire(owner)
    age(delivery, 60)

    assert sweep().requeued == 1
    assert queued_delivery_ids(private_celery_queue) == [delivery.pk]


def test_it_leaves_young_pending_deliveries_to_their_task(owner, fire, private_celery_queue):
    fire(owner)

    assert sweep().requeued == 0
    assert queued_delivery_ids(private_celery_queue) == []


def test_it_leaves_deliveries_waiting_for_their_backoff(owner, fire):
    [delivery] = fire(owner)
    age(delivery, 60)
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    assert sweep().requeued == 0


def test_it_recovers_a_delivery_whose_lease_expired(owner, fire, private_celery_queue):
    [delivery] = fire(owner)
    past = timezone.now() - timedelta(minutes=5)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, lease_expires_at=past
    )

    assert sweep().recovered == 1

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert "worker stopped" in delivery.last_error
    assert queued_delivery_ids(private_celery_queue) == [delivery.pk]


def test_it_leaves_a_delivery_inside_its_lease(owner, fire):
    [delivery] = fire(owner)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, lease_expires_at=timezone.now() + timedelta(minutes=1)
    )

    assert sweep().recovered == 0


def test_it_fails_a_dead_workers_delivery_out_of_attempts(owner, fire, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    [delivery] = fire(owner)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING,
        attempts=3,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )

    assert sweep().failed == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_what_the_sweeper_requeues(owner, fire, smtp, workers):
    [delivery] = fire(owner)
    # Drop its task from the queue: the enqueue after commit was lost.
    with celery_app.connection_for_write() as conn:
        conn.default_channel.client.delete(workers.queue)
    age(delivery, 60)
    workers.start(smtp.port)

    assert sweep().requeued == 1

    wait_for(lambda: smtp.messages, what="the email at the SMTP server")
    wait_for(
        lambda: Delivery.objects.filter(pk=delivery.pk, status="sent").exists(),
        what="the delivery marked sent",
    )
    assert smtp.messages[0]["X-CryptoMonitor-Delivery"] == str(delivery.pk)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_delivery_survives_its_worker_being_killed_mid_send(owner, smtp, fire, workers):
    smtp.holding = True  # the SMTP server stalls in DATA until the worker is dead
    first = workers.start(smtp.port, NOTIFICATIONS_SENDING_LEASE_SECONDS="2")
    [delivery] = fire(owner)  # autocommit: its task is enqueued at once

    assert smtp.data_started.wait(30), "the worker never started sending"
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENDING
    workers.kill(first)
    smtp.holding = False
    smtp.release.set()

    # Within the lease the sweeper leaves the row alone; after it, it recovers it.
    assert sweep().recovered == 0
    wait_for(lambda: sweep().recovered == 1, timeout=10, what="the lease to expire")
    workers.start(smtp.port)

    wait_for(lambda: smtp.messages, timeout=30, what="the email at the SMTP server")
    wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == "sent", what="sent")
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert [m["X-CryptoMonitor-Delivery"] for m in smtp.messages] == [str(delivery.pk)]


def test_it_requeues_a_large_backlog_in_chunks(owner, fire, private_celery_queue):
    deliveries = [d for _ in range(ENQUEUE_CHUNK + 1) for d in fire(owner)]
    Delivery.objects.update(created_at=timezone.now() - timedelta(seconds=60))

    assert sweep().requeued == ENQUEUE_CHUNK + 1

    assert len(queued_delivery_ids(private_celery_queue)) == 2  # two chunk tasks
    assert len(deliveries) == ENQUEUE_CHUNK + 1
