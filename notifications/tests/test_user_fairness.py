"""One user's slow destinations never delay another user's notifications.

Every user shares the `notifications` queue, and a webhook or Apprise send may
take its whole OUTBOUND_TIMEOUT_SECONDS: one user with many alerts aimed at a
tarpit once held every worker slot for minutes. Now each user has at most
USER_SENDS_IN_FLIGHT such sends at once; a send over it is handed back
without costing an attempt, and chunks leave those rows to tasks of their own.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from notifications.delivery import deliver, deliver_many
from notifications.models import Delivery, DeliveryStatus, NotificationSettings
from notifications.outbox import record_deliveries_for_events
from notifications.tests.conftest import queued_delivery_ids, wait_for

PROCFILE_THREADS = 16  # the Procfile's notifications worker: --concurrency 16


def aim_webhook(user, url: str) -> None:
    config = NotificationSettings.for_user(user)
    config.webhook_url = url
    config.save()


def fire_many(user, coin, count: int, channels=("webhook",)) -> list[Delivery]:
    """`count` alerts of `user` firing in one price batch, as evaluation records them."""
    events = []
    for number in range(count):
        alert = Alert.objects.create(
            user=user, coin=coin, condition="above", target=Decimal(30000 - number)
        )
        events.append(
            AlertEvent.objects.create(
                alert=alert,
                coin=coin,
                price=Decimal("30123.45"),
                previous_price=Decimal("29000"),
                reason="BTC is above",
                triggered_at=timezone.now(),
            )
        )
    return record_deliveries_for_events((event, list(channels)) for event in events)


def database_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_users_send_over_the_cap_is_handed_back_at_once_without_costing_an_attempt(
    owner, coin, tarpit, receiver, settings
):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True  # the tarpit and receiver are on loopback
    settings.OUTBOUND_TIMEOUT_SECONDS = 3
    aim_webhook(owner, tarpit.url)
    first, second, third = fire_many(owner, coin, 3)

    def send(delivery: Delivery) -> None:
        try:
            deliver(delivery.pk)
        finally:
            connection.close()

    holding = [threading.Thread(target=send, args=(row,)) for row in (first, second)]
    for thread in holding:
        thread.start()
    wait_for(lambda: tarpit.open == 2, timeout=10, what="two sends in flight")
    started = time.monotonic()

    outcome = deliver(third.pk)

    waited = time.monotonic() - started
    third.refresh_from_db()
    for thread in holding:
        thread.join(10)
    assert outcome == DeliveryStatus.PENDING
    assert waited < 1, f"the third send waited {waited:.1f} s for the tarpit"
    assert (third.attempts, third.last_error) == (0, "")
    # It comes back once a slot is likely free: within one send's deadline.
    assert third.next_attempt_at <= timezone.now() + timedelta(seconds=3)
    assert tarpit.accepted == 2
    # Once the two sends ended their slots are free: the row goes out.
    aim_webhook(owner, receiver.url)
    Delivery.objects.filter(pk=third.pk).update(next_attempt_at=None)
    assert deliver(third.pk) == DeliveryStatus.SENT
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_chunk_leaves_webhook_and_apprise_rows_to_tasks_of_their_own(
    owner, coin, receiver, settings, private_celery_queue
):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    aim_webhook(owner, receiver.url)
    NotificationSettings.objects.filter(user=owner).update(apprise_urls=f"json://{receiver.url}")
    rows = fire_many(owner, coin, 2, channels=("email", "webhook", "apprise"))
    queued_before = queued_delivery_ids(private_celery_queue)

    outcomes = deliver_many([row.pk for row in rows])

    user_aimed = sorted(row.pk for row in rows if row.channel in ("webhook", "apprise"))
    assert set(outcomes) == {row.pk for row in rows if row.channel == "email"}
    assert receiver.requests == []
    assert sorted(queued_delivery_ids(private_celery_queue)[len(queued_before) :]) == user_aimed
    assert set(Delivery.objects.filter(pk__in=user_aimed).values_list("status", "attempts")) == {
        (DeliveryStatus.PENDING, 0)
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_one_users_tarpit_webhooks_do_not_delay_another_users_webhook(
    owner, stranger, coin, tarpit, receiver, settings, workers, private_notifications_queue
):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    aim_webhook(owner, tarpit.url)
    aim_webhook(stranger, receiver.url)
    # The worker the Procfile runs for the notifications queue (pool, concurrency).
    workers.start_as_procfile_runs(
        "notifications",
        private_notifications_queue,
        OUTBOUND_ALLOW_PRIVATE_IPS="True",
        OUTBOUND_TIMEOUT_SECONDS="10",
    )
    fire_many(owner, coin, 40)  # two chunks: 25 and 15
    most_connections = 0

    def sends_in_flight() -> bool:
        nonlocal most_connections
        most_connections = max(most_connections, database_connections())
        return tarpit.open >= 2

    wait_for(sends_in_flight, timeout=30, what="the owner's sends to the tarpit")
    started = time.monotonic()
    [theirs] = fire_many(stranger, coin, 1)

    def received() -> bool:
        sends_in_flight()
        return bool(receiver.requests)

    wait_for(received, timeout=5, what="the stranger's webhook, behind the owner's tarpit")
    waited = time.monotonic() - started
    wait_for(
        lambda: Delivery.objects.get(pk=theirs.pk).status == DeliveryStatus.SENT,
        timeout=5,
        what="the stranger's delivery recorded as sent",
    )
    print(f"stranger's webhook after {waited:.2f} s; most database connections {most_connections}")
    assert tarpit.most_open == 2, "the owner's sends in flight at once"
    # The threads pool closes each task's connection (Celery's Django fixup).
    assert most_connections <= PROCFILE_THREADS
    assert Delivery.objects.filter(user=owner, attempts__gt=1).count() == 0
