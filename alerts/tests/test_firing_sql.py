"""Firing is one statement (FIRE_SQL): it must write what the ORM and the Python wording would."""

from datetime import timedelta
from decimal import Decimal

import pytest

from alerts.evaluation import PriceChange, firing_reason, window_movements
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


def _python_reasons(feed, events: list[AlertEvent], previous: str) -> dict[int, str]:
    """What firing_reason says for these events' alerts."""
    [event, *_] = events
    change = PriceChange(
        coin_id=feed.coin.pk,
        tick_id=event.tick_id,
        price=event.price,
        previous_price=Decimal(previous),
        time=feed.time,
    )
    moves = {(m.coin_id, m.window): m for m in window_movements([change])}
    return {event.alert_id: firing_reason(event.alert, change, moves) for event in events}


def test_its_reasons_read_exactly_as_the_python_wording_for_every_condition(feed, make_alert):
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

    assert {event.alert_id for event in down} == {alert.pk for alert in falling}
    assert {event.alert_id for event in up} == {alert.pk for alert in rising}
    for events, previous in ((down, "19990"), (up, "18500.10")):
        stored = {
            event.alert_id: event.reason
            for event in AlertEvent.objects.filter(pk__in=[event.pk for event in events])
        }
        assert stored == _python_reasons(feed, events, previous)
    assert stored[rising[1].pk] == ("Price crossed up through 19999.12345 (18500.1 → 20000).")
