"""Firing is one statement (FIRE_SQL): it writes what the ORM would, with reasons in words."""

from datetime import timedelta
from decimal import Decimal

import pytest

from alerts.models import AlertEvent, Condition
from notifications.models import Delivery

pytestmark = pytest.mark.django_db

# Written by the statement itself rather than as Delivery(...) would.
STATEMENT_SET = {"id", "event", "created_at", "updated_at"}


def test_it_writes_one_pending_delivery_per_distinct_channel_in_order(feed, make_alert, owner):
    make_alert(Condition.ABOVE, target=Decimal("100"), channels=["webhook", "email", "webhook"])

    [event] = feed.tick("30000")

    deliveries = Delivery.objects.filter(event_id=event.pk).order_by("pk")
    assert [(d.channel, d.user_id) for d in deliveries] == [
        ("webhook", owner.pk),
        ("email", owner.pk),
    ]


def test_its_deliveries_have_every_field_as_the_orm_would_set_it(feed, make_alert, owner):
    make_alert(Condition.ABOVE, target=Decimal("100"), channels=["email", "in_app"])

    [event] = feed.tick("30000")

    for delivery in Delivery.objects.filter(event_id=event.pk):
        expected = Delivery(user_id=owner.pk, event_id=event.pk, channel=delivery.channel)
        for field in Delivery._meta.concrete_fields:
            if field.name not in STATEMENT_SET:
                assert getattr(delivery, field.attname) == getattr(expected, field.attname), field
        assert delivery.event_id == event.pk
        assert timedelta(0) <= delivery.updated_at - delivery.created_at < timedelta(seconds=1)


def test_the_events_it_returns_are_the_rows_it_wrote(feed, make_alert):
    make_alert(Condition.CROSSES_UP, target=Decimal("30000"))
    make_alert(Condition.PCT_UP, percent=Decimal("0.1"), window="5m")

    feed.tick("29950")
    returned = feed.tick("30010.5", after=timedelta(minutes=1))

    assert len(returned) == 2
    for event in returned:
        stored = AlertEvent.objects.get(pk=event.pk)
        for field in AlertEvent._meta.concrete_fields:
            assert getattr(event, field.attname) == getattr(stored, field.attname), field


def test_the_events_it_returns_behave_as_rows_loaded_from_the_database(feed, make_alert):
    alert = make_alert(Condition.ABOVE, target=Decimal("30000"))

    [event] = feed.tick("30010")

    assert not event._state.adding
    assert event._state.db == "default"
    assert event == AlertEvent.objects.get(pk=event.pk)
    assert event.alert == alert
    assert event.coin == feed.coin


def test_its_reasons_say_why_each_condition_fired_in_the_users_figures(feed, make_alert):
    falling = [
        make_alert(Condition.BELOW, target=Decimal("19000.50000")),
        make_alert(Condition.CROSSES_DOWN, target=Decimal("19000")),
        make_alert(Condition.CROSSES, target=Decimal("18999.99000000")),
        make_alert(Condition.PCT_DOWN, percent=Decimal("5.2500"), window="1h"),
        make_alert(Condition.PCT_MOVE, percent=Decimal("5"), window="24h"),
    ]
    rising = [
        make_alert(Condition.ABOVE, target=Decimal("20000")),
        make_alert(Condition.CROSSES_UP, target=Decimal("19999.1234500000")),
        make_alert(Condition.PCT_UP, percent=Decimal("0.0100"), window="5m"),
    ]

    feed.tick("19990")
    down = feed.tick("18500.10", after=timedelta(minutes=20))
    up = feed.tick("20000.000", after=timedelta(minutes=1))

    stored = dict(
        AlertEvent.objects.filter(pk__in=[event.pk for event in down + up]).values_list(
            "alert_id", "reason"
        )
    )
    assert {event.alert_id: event.reason for event in down + up} == stored
    assert [stored[alert.pk] for alert in falling + rising] == [
        "Price 18500.1 is at or below 19000.5.",
        "Price crossed down through 19000 (19990 → 18500.1).",
        "Price crossed down through 18999.99 (19990 → 18500.1).",
        "Price fell 7.45% within 1 hour (19990 → 18500.1), at least the 5.25% asked for.",
        "Price fell 7.45% within 24 hours (19990 → 18500.1), at least the 5% asked for.",
        "Price 20000 is at or above 20000.",
        "Price crossed up through 19999.12345 (18500.1 → 20000).",
        "Price rose 8.11% within 5 minutes (18500.1 → 20000), at least the 0.01% asked for.",
    ]
