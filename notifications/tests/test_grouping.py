"""Email digests: a burst of alerts for one user becomes one email, each sent once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notifications.delivery import deliver, deliver_many, send_test_notifications
from notifications.models import Delivery, DeliveryStatus, EmailDigest
from notifications.tests.conftest import stalled_reads

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def grouping(settings):
    settings.NOTIFICATIONS_EMAIL_GROUP_THRESHOLD = 3
    settings.NOTIFICATIONS_EMAIL_GROUP_WINDOW_SECONDS = 60


def delivery_ids_in(messages) -> list[int]:
    return [int(i) for m in messages for i in m["X-CryptoMonitor-Delivery"].split(",")]


def fire_burst(fire, user, count: int) -> list[Delivery]:
    return [delivery for _ in range(count) for delivery in fire(user)]


def test_up_to_the_threshold_each_alert_gets_its_own_email(smtp, owner, fire):
    deliveries = fire_burst(fire, owner, 3)

    for delivery in deliveries:
        assert deliver(delivery.pk) == DeliveryStatus.SENT

    assert len(smtp.messages) == 3


def test_a_burst_over_the_threshold_becomes_one_digest(smtp, owner, fire):
    deliveries = fire_burst(fire, owner, 5)

    assert deliver(deliveries[0].pk) == DeliveryStatus.SENT
    assert [deliver(d.pk) for d in deliveries[1:]] == [None] * 4

    [message] = smtp.messages
    assert message["Subject"] == "CryptoMonitor: 5 alerts fired (BTC)"
    assert sorted(delivery_ids_in(smtp.messages)) == sorted(d.pk for d in deliveries)
    assert message.get_body(("plain",)).get_content().count("Manage this alert") == 5
    digest = EmailDigest.objects.get()
    assert digest.sent_at is not None and digest.message_id == message["Message-ID"]
    rows = Delivery.objects.filter(pk__in=[d.pk for d in deliveries])
    assert {(row.status, row.digest_id) for row in rows} == {("sent", digest.pk)}


def test_alerts_after_a_digest_wait_for_the_next_one(smtp, owner, fire):
    first = fire_burst(fire, owner, 4)
    deliver(first[0].pk)
    later = fire_burst(fire, owner, 2)

    assert [deliver(d.pk) for d in later] == ["pending", "pending"]
    held = Delivery.objects.get(pk=later[0].pk)
    digest = EmailDigest.objects.get()
    assert held.next_attempt_at == digest.sent_at + timedelta(seconds=60)
    assert held.attempts == 0  # waiting costs no attempt

    assert deliver(later[0].pk, now=held.next_attempt_at) == DeliveryStatus.SENT
    assert deliver(later[1].pk, now=held.next_attempt_at) is None
    assert len(smtp.messages) == 2
    assert sorted(delivery_ids_in(smtp.messages[1:])) == sorted(d.pk for d in later)


def test_a_digest_the_server_rejects_fails_every_alert_in_it(smtp, owner, fire):
    smtp.rcpt_reply = "550 5.1.1 No such user"
    deliveries = fire_burst(fire, owner, 4)

    assert deliver(deliveries[0].pk) == DeliveryStatus.FAILED

    rows = Delivery.objects.filter(pk__in=[d.pk for d in deliveries])
    assert {row.status for row in rows} == {"failed"}


def test_test_emails_are_never_grouped(smtp, owner, fire):
    fire_burst(fire, owner, 4)
    [test] = send_test_notifications(owner, ["email"])

    deliver(test.pk)

    assert smtp.messages[0]["X-CryptoMonitor-Delivery"] == str(test.pk)


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_each_alert_of_a_burst_exactly_once(smtp, owner, fire):
    deliveries = fire_burst(fire, owner, 12)
    barrier = threading.Barrier(len(deliveries))

    def run(delivery_id: int) -> None:
        barrier.wait()
        try:
            deliver(delivery_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(d.pk,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A thread that came after the digest went out (a slow machine) hands its
    # row back for the next window: that window comes, and the retry sends it.
    held = list(Delivery.objects.filter(status="pending").values_list("pk", flat=True))
    an_hour_ago = timezone.now() - timedelta(hours=1)
    EmailDigest.objects.update(sent_at=an_hour_ago)
    Delivery.objects.filter(pk__in=held).update(next_attempt_at=an_hour_ago)
    for delivery_id in held:
        deliver(delivery_id)

    sent_ids = delivery_ids_in(smtp.messages)
    assert sorted(sent_ids) == sorted(d.pk for d in deliveries)  # each exactly once
    assert Delivery.objects.filter(status="sent").count() == 12


def test_a_chunk_holding_a_whole_burst_sends_one_digest(smtp, owner, fire):
    deliveries = fire_burst(fire, owner, 6)

    outcomes = deliver_many([d.pk for d in deliveries])

    assert outcomes == {d.pk: "sent" for d in deliveries}
    [message] = smtp.messages
    assert sorted(delivery_ids_in([message])) == sorted(d.pk for d in deliveries)


def test_a_digests_rows_whose_lease_ran_out_before_the_send_are_left_to_the_sweeper(
    smtp, owner, fire, settings
):
    # The worker sat in a database read while its link was cut: by the time it
    # had the notices, the sweeper may have given the rows to another worker.
    deliveries = fire_burst(fire, owner, 6)
    lease = timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS)
    claimed_at = timezone.now() - lease - timedelta(seconds=1)

    deliver(deliveries[0].pk, now=claimed_at)

    assert smtp.messages == []
    expired = Delivery.objects.lease_expired(timezone.now())
    assert expired.filter(digest__isnull=True).count() == len(deliveries)


@pytest.mark.django_db(transaction=True)
def test_a_digest_whose_address_read_outlasts_the_lease_is_left_to_the_sweeper(
    smtp, owner, fire, settings
):
    # As for a single email: the read of the address, after the leases were
    # checked, answered only once the worker's cut link was back.
    deliveries = fire_burst(fire, owner, 6)
    lease = timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS)
    claimed_at = timezone.now() - lease + timedelta(seconds=1)  # 1 s of it left

    with stalled_reads("account_emailaddress", seconds=2):
        deliver(deliveries[0].pk, now=claimed_at)

    assert smtp.messages == []
    expired = Delivery.objects.lease_expired(timezone.now())
    assert expired.filter(digest__isnull=True).count() == len(deliveries)
