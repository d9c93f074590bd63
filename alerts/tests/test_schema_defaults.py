"""Columns added after release insert without being named (old code, a raw COPY)."""

import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, AlertEvent

pytestmark = pytest.mark.django_db


def insert_as_the_first_release(owner, bitcoin) -> None:
    """The alert INSERT of the code before alerts 0005: it names no later column."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO alerts_alert (user_id, coin_id, condition, target, "window", note, '
            "frequency, cooldown_seconds, channels, status, armed, created_at, updated_at) "
            "VALUES (%s, %s, 'above', 30000, '', '', 'once', 3600, '[\"email\"]', 'active', "
            "true, %s, %s)",
            [owner.pk, bitcoin.pk, now, now],
        )


def test_an_insert_that_does_not_name_expired_from_leaves_it_blank(owner, bitcoin):
    # As after a rollback of the code.
    insert_as_the_first_release(owner, bitcoin)

    assert Alert.objects.get().expired_from == ""


def test_an_insert_that_does_not_name_the_currency_sets_the_alert_in_the_base(owner, bitcoin):
    # As a node still on the code before alerts 0010 during a rolling upgrade.
    insert_as_the_first_release(owner, bitcoin)

    assert Alert.objects.get().currency == "usd"


def test_an_event_written_without_currency_and_rate_is_in_the_base_at_rate_one(owner, bitcoin):
    # The evaluator before alerts 0010 names neither column.
    alert = Alert.objects.create(user=owner, coin=bitcoin, condition="above", target=30000)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alerts_alertevent (alert_id, coin_id, price, reason, triggered_at) "
            "VALUES (%s, %s, 30010, 'Price 30010 is at or above 30000.', %s)",
            [alert.pk, bitcoin.pk, timezone.now()],
        )

    event = AlertEvent.objects.get()
    assert (event.currency, event.exchange_rate) == ("usd", 1)
