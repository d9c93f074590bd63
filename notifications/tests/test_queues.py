"""Deliveries run on their own queue: a slow destination never delays polls or evaluation.

A tarpit Apprise URL once held both worker slots, so price
polls and alert evaluation waited behind it. Real Celery workers here, one
per queue as Procfile and docker-compose.yml run them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from alerts.tasks import evaluate_alerts
from notifications.delivery import send_test_notifications
from notifications.models import Delivery, DeliveryStatus
from notifications.tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_evaluation_runs_at_once_while_a_send_holds_the_notifications_worker(
    owner, coin, smtp, workers, private_notifications_queue
):
    # The SMTP server stalls in DATA: the send holds its worker until released.
    smtp.holding = True
    for consume in (workers.queue, private_notifications_queue):
        workers.start(
            smtp.port,
            consume=consume,
            notifications_queue=private_notifications_queue,
            EMAIL_TIMEOUT="120",
        )
    [held] = send_test_notifications(owner, ["email"])
    assert smtp.data_started.wait(30), "the notifications worker never started sending"
    alert = Alert.objects.create(
        user=owner, coin=coin, condition="above", target=Decimal("30000"), channels=["in_app"]
    )

    evaluate_alerts.delay(
        [
            {
                "coin_id": coin.pk,
                "tick_id": None,
                "price": "30500",
                "previous_price": "29990",
                "time": timezone.now().isoformat(),
            }
        ]
    )

    # Well within the held send (120 s): the default queue's worker is free.
    wait_for(
        lambda: AlertEvent.objects.filter(alert=alert).exists(),
        timeout=20,
        what="the alert evaluated on the default queue",
    )
    assert Delivery.objects.get(pk=held.pk).status == DeliveryStatus.SENDING
