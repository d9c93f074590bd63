"""What firing writes (event, outbox), frequency, cooldown, re-arm and expiry."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert, Condition
from alerts.tasks import evaluate_alerts, expire_alerts
from alerts.tests.conftest import fired_ids
from notifications.models import Delivery
from prices.models import PriceSource, PriceTick

pytestmark = pytest.mark.django_db

EVERY_MINUTE = {"frequency": "every_time", "cooldown_seconds": 60}


def test_it_records_the_event_with_its_tick_and_a_reason_in_words(feed, make_alert):
    alert = make_alert(Condition.CROSSES_UP, target=Decimal("30000"))

    feed.tick("29950")
    [event] = feed.tick("30010.5")

    assert event.alert_id == alert.pk
    assert event.coin_id == alert.coin_id
    assert event.tick == PriceTick.objects.get(time=feed.time)
    assert (event.price, event.previous_price) == (Decimal("30010.5"), Decimal("29950"))
    assert event.reason == "Price crossed up through 30000 (29950 → 30010.5)."
    assert event.triggered_at == feed.time


def test_it_explains_a_movement_with_its_reference_price(feed, make_alert):
    make_alert(Condition.PCT_DOWN, percent=Decimal("5"), window="1h")

    feed.tick("20000")
    [event] = feed.tick("18500", after=timedelta(minutes=20))

    assert event.reason == (
        "Price fell 7.50% within 1 hour (20000 → 18500), at least the 5% asked for."
    )


def test_it_writes_one_pending_delivery_per_channel(feed, make_alert, owner):
    make_alert(Condition.ABOVE, target=Decimal("100"), channels=["email", "in_app", "webhook"])

    [event] = feed.tick("30000")

    deliveries = Delivery.objects.filter(event=event)
    assert sorted(deliveries.values_list("channel", flat=True)) == ["email", "in_app", "webhook"]
    assert {(d.user_id, d.status) for d in deliveries} == {(owner.pk, "pending")}


def test_it_enqueues_the_deliveries_only_on_commit(
    feed, make_alert, django_capture_on_commit_callbacks
):
    make_alert(Condition.ABOVE, target=Decimal("100"))

    with django_capture_on_commit_callbacks() as callbacks:
        feed.tick("30000")

    assert len(callbacks) == 1


def test_a_once_alert_ends_triggered_with_its_time(feed, make_alert):
    alert = make_alert(Condition.BELOW, target=Decimal("30000"))

    feed.tick("29000")

    alert.refresh_from_db()
    assert (alert.status, alert.last_triggered_at) == ("triggered", feed.time)


def test_an_every_time_level_alert_stays_active_disarmed_in_cooldown(feed, make_alert):
    alert = make_alert(Condition.ABOVE, target=Decimal("30000"), **EVERY_MINUTE)

    feed.tick("30500")

    alert.refresh_from_db()
    assert (alert.status, alert.armed) == ("active", False)
    assert alert.cooldown_until == feed.time + timedelta(seconds=60)


def test_a_level_alert_hovering_above_the_target_does_not_fire_again(feed, make_alert):
    alert = make_alert(Condition.ABOVE, target=Decimal("30000"), **EVERY_MINUTE)

    feed.tick("30500")
    for _ in range(5):
        assert fired_ids(feed.tick("30400", after=timedelta(minutes=5))) == set()
    assert alert.events.count() == 1


def test_a_level_alert_re_arms_once_false_and_fires_again(feed, make_alert):
    alert = make_alert(Condition.ABOVE, target=Decimal("30000"), **EVERY_MINUTE)

    feed.tick("30500")
    feed.tick("29900", after=timedelta(minutes=2))
    alert.refresh_from_db()
    assert alert.armed

    assert fired_ids(feed.tick("30100", after=timedelta(minutes=2))) == {alert.pk}


def test_a_re_armed_level_alert_still_waits_for_its_cooldown(feed, make_alert):
    alert = make_alert(Condition.BELOW, target=Decimal("30000"), **EVERY_MINUTE)

    feed.tick("29000")
    feed.tick("31000", after=timedelta(seconds=10))
    assert fired_ids(feed.tick("29000", after=timedelta(seconds=10))) == set()
    # Still true after the cooldown: it fires without having to re-arm again.
    assert fired_ids(feed.tick("29500", after=timedelta(seconds=60))) == {alert.pk}


def test_an_every_time_edge_alert_fires_again_after_its_cooldown(feed, make_alert):
    alert = make_alert(Condition.CROSSES, target=Decimal("30000"), **EVERY_MINUTE)

    feed.tick("29900")
    assert fired_ids(feed.tick("30100")) == {alert.pk}
    assert fired_ids(feed.tick("29900", after=timedelta(seconds=30))) == set()
    feed.tick("30100", after=timedelta(seconds=10))
    assert fired_ids(feed.tick("29900", after=timedelta(seconds=30))) == {alert.pk}


def test_an_every_time_movement_fires_again_after_its_cooldown(feed, make_alert):
    alert = make_alert(
        Condition.PCT_UP,
        percent=Decimal("5"),
        window="1h",
        frequency="every_time",
        cooldown_seconds=600,
    )

    feed.tick("20000")
    assert fired_ids(feed.tick("21000", after=timedelta(minutes=1))) == {alert.pk}
    assert fired_ids(feed.tick("21100", after=timedelta(minutes=5))) == set()
    assert fired_ids(feed.tick("21200", after=timedelta(minutes=5))) == {alert.pk}


def test_an_alert_past_its_expiry_never_fires(feed, make_alert):
    make_alert(Condition.ABOVE, target=Decimal("100"), expires_at=feed.time + timedelta(seconds=5))

    assert fired_ids(feed.tick("30000", after=timedelta(seconds=10))) == set()


def test_expire_alerts_marks_live_alerts_past_their_expiry(make_alert):
    past = timezone.now() - timedelta(minutes=1)
    active = make_alert(expires_at=past)
    paused = make_alert(expires_at=past, status="paused")
    triggered = make_alert(expires_at=past, status="triggered")
    future = make_alert(expires_at=timezone.now() + timedelta(hours=1))
    forever = make_alert()

    assert expire_alerts() == 2

    statuses = dict(Alert.objects.values_list("pk", "status"))
    assert statuses == {
        active.pk: "expired",
        paused.pk: "expired",
        triggered.pk: "triggered",
        future.pk: "active",
        forever.pk: "active",
    }


def test_expire_alerts_records_the_status_each_alert_expired_from(make_alert):
    past = timezone.now() - timedelta(minutes=1)
    active = make_alert(expires_at=past)
    paused = make_alert(expires_at=past, status="paused")

    expire_alerts()

    assert dict(Alert.objects.values_list("pk", "expired_from")) == {
        active.pk: "active",
        paused.pk: "paused",
    }


def test_the_task_evaluates_a_batch_as_the_pipeline_sends_it(bitcoin, make_alert):
    make_alert(Condition.ABOVE, target=Decimal("100"))
    tick = PriceTick.objects.create(
        coin=bitcoin, time=timezone.now(), price=Decimal("30000"), source=PriceSource.COINGECKO
    )
    batch = [
        {
            "coin_id": bitcoin.pk,
            "tick_id": tick.pk,
            "price": "30000",
            "previous_price": None,
            "time": tick.time.isoformat(),
        }
    ]

    assert evaluate_alerts(batch) == 1
    assert evaluate_alerts(batch) == 0


def test_the_task_rejects_a_time_without_a_timezone(bitcoin):
    batch = [{"coin_id": bitcoin.pk, "tick_id": None, "price": "1", "time": "2023-03-01T00:00:00"}]

    with pytest.raises(ValueError, match="aware"):
        evaluate_alerts(batch)
