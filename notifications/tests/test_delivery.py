"""The delivery service: claiming, backoff, the channel registry, test notifications."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from common.delivery_channels import Channel
from cryptomonitor.celery import app as celery_app
from notifications.delivery import (
    backoff_seconds,
    deliver,
    deliver_many,
    send_test_notifications,
)
from notifications.models import Delivery, DeliveryStatus
from notifications.outbox import ENQUEUE_CHUNK, _enqueue
from notifications.tasks import deliver_notifications
from notifications.tests.conftest import queued_delivery_ids, stalled_reads
from notifications.transports import TRANSPORTS

pytestmark = pytest.mark.django_db


def test_every_channel_has_a_transport():
    assert set(TRANSPORTS) == set(Channel.values)


def test_a_claim_takes_a_pending_row_once(owner, fire):
    [delivery] = fire(owner)
    rows = Delivery.objects.filter(pk=delivery.pk)
    now = timezone.now()

    assert rows.claimable(now).claim(now, "first") == 1
    assert rows.claimable(now).claim(now, "second") == 0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENDING
    assert delivery.attempts == 1
    assert delivery.lease_expires_at > now
    assert delivery.claim_token == "first"


def test_backoff_grows_exponentially_with_jitter(settings):
    settings.NOTIFICATIONS_BACKOFF_BASE_SECONDS = 10
    first = [backoff_seconds(1) for _ in range(50)]
    third = [backoff_seconds(3) for _ in range(50)]

    assert all(5 <= delay <= 10 for delay in first)
    assert all(20 <= delay <= 40 for delay in third)
    assert len(set(first)) > 1
    assert backoff_seconds(30) <= 3600


def test_a_retry_is_enqueued_with_its_backoff(owner, fire, settings, private_celery_queue):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # discard port: refused
    [delivery] = fire(owner)

    assert deliver(delivery.pk) == DeliveryStatus.PENDING

    assert queued_delivery_ids(private_celery_queue) == [delivery.pk]


def test_an_unexpected_error_is_retried_not_lost(owner, fire, monkeypatch):
    from notifications.transports.email import EmailTransport

    def explode(self, notice):
        raise RuntimeError("template bug")

    monkeypatch.setattr(EmailTransport, "send", explode)
    [delivery] = fire(owner)

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert "RuntimeError: template bug" in delivery.last_error


def test_a_test_notification_has_no_event_and_is_queued_on_commit(
    owner, django_capture_on_commit_callbacks, private_celery_queue
):
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = send_test_notifications(owner, ["in_app"])

    assert delivery.event is None
    assert queued_delivery_ids(private_celery_queue) == [delivery.pk]
    assert deliver(delivery.pk) == DeliveryStatus.SENT
    assert owner.inbox.get().title == "CryptoMonitor test notification"


@pytest.mark.django_db(transaction=True)
def test_concurrent_tasks_send_a_delivery_once(owner, fire, smtp):
    [delivery] = fire(owner)
    results = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            results.append(deliver(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results, key=str) == [None, None, None, "sent"]
    assert len(smtp.messages) == 1


def test_a_large_burst_is_enqueued_in_chunks(private_celery_queue):
    _enqueue(list(range(1, 2 * ENQUEUE_CHUNK + 2)))

    with celery_app.connection_for_write() as conn:
        raw = conn.default_channel.client.lrange(private_celery_queue, 0, -1)
    bodies = [json.loads(base64.b64decode(json.loads(item)["body"]))[0][0] for item in raw]
    assert sorted(len(chunk) for chunk in bodies) == [1, ENQUEUE_CHUNK, ENQUEUE_CHUNK]
    assert sorted(i for chunk in bodies for i in chunk) == list(range(1, 2 * ENQUEUE_CHUNK + 2))


def test_a_chunk_task_delivers_each_of_its_rows(owner, fire, smtp):
    deliveries = [d for _ in range(2) for d in fire(owner)]

    deliver_notifications([d.pk for d in deliveries])

    assert Delivery.objects.filter(status="sent").count() == 2
    assert len(smtp.messages) == 2


def test_a_chunk_skips_rows_another_worker_holds(owner, fire, smtp):
    mine, theirs = fire(owner), fire(owner)
    now = timezone.now()
    Delivery.objects.filter(pk=theirs[0].pk).claim(now, "another worker")

    outcomes = deliver_many([mine[0].pk, theirs[0].pk])

    assert outcomes == {mine[0].pk: "sent"}
    assert Delivery.objects.get(pk=theirs[0].pk).status == DeliveryStatus.SENDING


def test_a_chunk_leaves_rows_whose_lease_ran_out_to_the_sweeper(owner, fire, smtp, settings):
    [delivery] = fire(owner)
    # Claimed so long ago (a slow chunk) that the lease is over before this row's turn.
    lease = timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS)
    claimed_at = timezone.now() - lease - timedelta(seconds=1)

    assert deliver_many([delivery.pk], now=claimed_at) == {}
    assert smtp.messages == []
    assert Delivery.objects.lease_expired(timezone.now()).filter(pk=delivery.pk).exists()


def test_a_row_whose_lease_ran_out_before_its_send_is_left_to_the_sweeper(
    owner, fire, smtp, settings
):
    # The worker held the row while the database stopped answering (its link
    # cut): by the time the notice was read, the lease was over and the
    # sweeper may have given the row to another worker.
    [delivery] = fire(owner)
    lease = timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS)
    claimed_at = timezone.now() - lease - timedelta(seconds=1)

    assert deliver(delivery.pk, now=claimed_at) is None
    assert smtp.messages == []
    assert Delivery.objects.lease_expired(timezone.now()).filter(pk=delivery.pk).exists()


def test_an_outcome_is_not_recorded_once_the_lease_was_taken_over(owner, fire, smtp):
    [delivery] = fire(owner)
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).claim(now, "slow worker")
    slow = Delivery.objects.get(pk=delivery.pk)
    # The sweeper hands the row to another worker, which claims it again.
    Delivery.objects.filter(pk=delivery.pk).update(status="pending")
    Delivery.objects.filter(pk=delivery.pk).claim(now, "new worker")

    assert not slow.mark_failed("late failure of the slow worker")
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENDING


@pytest.mark.django_db(transaction=True)
def test_an_email_whose_address_read_outlasts_the_lease_is_left_to_the_sweeper(
    owner, fire, smtp, settings
):
    # The worker's link was cut right after the lease check: its read of the
    # recipient's address (PostgreSQL) answered only once the link was back,
    # after the sweeper had handed the row to another worker, which sends it.
    [delivery] = fire(owner)
    lease = timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS)
    claimed_at = timezone.now() - lease + timedelta(seconds=1)  # 1 s of it left

    with stalled_reads("account_emailaddress", seconds=2):
        assert deliver(delivery.pk, now=claimed_at) is None

    assert smtp.messages == []
    assert Delivery.objects.lease_expired(timezone.now()).filter(pk=delivery.pk).exists()
