"""End to end through real Celery workers: the beat task runs on two workers at once,
and the owner gets one summary email and one inbox entry."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from notifications.models import Delivery, DeliveryStatus, InAppNotification
from notifications.tests.conftest import wait_for
from summaries.models import SummaryOccurrence
from summaries.tasks import send_due_summaries
from summaries.tests.conftest import in_zone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_two_task_runs_on_two_workers_send_the_summary_once(
    owner, make_schedule, watching, smtp, workers
):
    in_zone(owner, "Asia/Tokyo")
    this_minute = timezone.now().astimezone(timezone.get_fixed_timezone(9 * 60))
    make_schedule(at=this_minute.time(), channels=["email", "in_app"])
    for _ in range(2):
        workers.start(smtp.port)

    for _ in range(4):
        send_due_summaries.delay()

    wait_for(
        lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 2,
        timeout=60,
        what="the summary's email and in-app deliveries",
    )
    time.sleep(1)  # any second claim would have written its deliveries by now
    assert SummaryOccurrence.objects.count() == 1
    assert Delivery.objects.count() == 2
    assert [mail["Subject"] for mail in smtp.messages] == [
        f"CryptoMonitor: {SummaryOccurrence.objects.get().content['title']}"
    ]
    assert InAppNotification.objects.filter(user=owner).count() == 1
