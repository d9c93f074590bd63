"""Deliveries' metrics, the outbox backlog and the Celery queue lengths."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cryptomonitor.celery import app as celery_app
from notifications.delivery import deliver, enqueue, sweep
from notifications.metrics import OutboxCollector, celery_queue_lengths, outbox_backlog
from notifications.models import Delivery, DeliveryStatus
from prices.tests.metric_values import metric_value

pytestmark = pytest.mark.django_db


def deliveries(channel: str, outcome: str) -> float:
    return metric_value("cryptomonitor_deliveries_total", {"channel": channel, "outcome": outcome})


def latencies(channel: str) -> float:
    return metric_value("cryptomonitor_delivery_latency_seconds_count", {"channel": channel})


def refuse_email(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # discard port: refused


def test_a_sent_delivery_is_counted_and_its_latency_observed(owner, fire):
    [delivery] = fire(owner, channels=["in_app"])
    before = deliveries("in_app", "sent"), latencies("in_app")

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    assert deliveries("in_app", "sent") == before[0] + 1
    assert latencies("in_app") == before[1] + 1


def test_a_failed_attempt_that_will_be_retried_counts_as_retry(
    owner, fire, settings, private_celery_queue
):
    refuse_email(settings)
    [delivery] = fire(owner)
    before = deliveries("email", "retry"), latencies("email")

    assert deliver(delivery.pk) == DeliveryStatus.PENDING

    assert deliveries("email", "retry") == before[0] + 1
    assert latencies("email") == before[1]


def test_the_last_failed_attempt_counts_as_failed(owner, fire, settings):
    refuse_email(settings)
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    [delivery] = fire(owner)
    before = deliveries("email", "failed")

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    assert deliveries("email", "failed") == before + 1


def test_the_sweeper_counts_what_it_recovers(owner, fire, private_celery_queue):
    [delivery] = fire(owner)
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(seconds=60)
    )
    before = metric_value("cryptomonitor_sweeper_recoveries_total")

    sweep()

    assert metric_value("cryptomonitor_sweeper_recoveries_total") == before + 1


def test_the_backlog_counts_pending_retry_and_sending_rows(owner, fire):
    fresh, retried, sending, sent, failed = fire(
        owner, channels=["email", "in_app", "webhook", "apprise", "email"][:4]
    ) + fire(owner, channels=["email"])
    Delivery.objects.filter(pk=retried.pk).update(attempts=2)
    Delivery.objects.filter(pk=sending.pk).update(status=DeliveryStatus.SENDING, attempts=1)
    Delivery.objects.filter(pk=sent.pk).update(status=DeliveryStatus.SENT, attempts=1)
    Delivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, attempts=5)

    assert outbox_backlog() == {"pending": 1, "retry": 1, "sending": 1}
    backlog, _ = OutboxCollector().collect()
    assert {s.labels["state"]: s.value for s in backlog.samples} == {
        "pending": 1,
        "retry": 1,
        "sending": 1,
    }


def test_queue_lengths_are_read_from_the_broker_for_every_routed_queue(
    owner, fire, settings, private_celery_queue, private_notifications_queue
):
    settings.CELERY_TASK_DEFAULT_QUEUE = private_celery_queue
    settings.CELERY_TASK_ROUTES = {
        "notifications.tasks.deliver_notification": {"queue": private_notifications_queue}
    }
    for delivery in fire(owner, channels=["email", "in_app"]):
        enqueue(delivery.pk)

    assert celery_queue_lengths() == {private_celery_queue: 0, private_notifications_queue: 2}


def test_queue_lengths_are_unknown_when_the_broker_is_down(settings, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")

        assert set(celery_queue_lengths().values()) == {None}


def test_queue_lengths_give_up_on_a_broker_that_accepts_but_never_answers(tarpit, monkeypatch):
    port = tarpit.url.split(":")[2].split("/")[0]
    with monkeypatch.context() as patched:
        patched.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{port}/0")

        lengths = celery_queue_lengths()  # the test's timeout fails it if this hangs

    assert set(lengths.values()) == {None}
    assert tarpit.accepted >= 1
