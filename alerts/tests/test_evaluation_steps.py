"""Step conditions (pct_step, pct_step_up, pct_step_down), tick by tick through the evaluator.

The bitcoin fixture's price is 30000 when each alert is saved: its reference.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from alerts.models import Alert, Condition, Status
from alerts.steps import step_band
from alerts.tests.conftest import fired_ids
from prices.models import Coin

pytestmark = pytest.mark.django_db

COOLDOWN = timedelta(minutes=10)


def every_time(make_alert, condition: str, percent: str = "5") -> Alert:
    return make_alert(
        condition, percent=Decimal(percent), frequency="every_time", cooldown_seconds=600
    )


def test_a_new_step_alert_starts_from_the_coins_price_when_saved(make_alert):
    alert = make_alert(Condition.PCT_STEP, percent=Decimal("5"))

    assert alert.step_reference == Decimal("30000")
    assert (alert.step_low, alert.step_high) == (Decimal("28500"), Decimal("31500"))


def test_a_step_up_fires_when_the_price_has_risen_by_the_percent(feed, make_alert):
    alert = make_alert(Condition.PCT_STEP_UP, percent=Decimal("5"))

    assert fired_ids(feed.tick("31499.99")) == set()
    assert fired_ids(feed.tick("31500")) == {alert.pk}


def test_a_step_up_ignores_a_fall(feed, make_alert):
    make_alert(Condition.PCT_STEP_UP, percent=Decimal("5"))

    assert fired_ids(feed.tick("20000")) == set()


def test_a_step_down_fires_when_the_price_has_fallen_by_the_percent(feed, make_alert):
    alert = make_alert(Condition.PCT_STEP_DOWN, percent=Decimal("5"))

    assert fired_ids(feed.tick("28500.01")) == set()
    assert fired_ids(feed.tick("28500")) == {alert.pk}


def test_a_step_either_way_fires_on_a_rise_and_on_a_fall(feed, make_alert):
    alert = every_time(make_alert, Condition.PCT_STEP)

    assert fired_ids(feed.tick("31500")) == {alert.pk}
    # From 31500 now: 5 % down is 29925.
    assert fired_ids(feed.tick("29925.01", after=COOLDOWN)) == set()
    assert fired_ids(feed.tick("29925", after=COOLDOWN)) == {alert.pk}


def test_a_firing_moves_the_band_to_the_firing_price_exactly(feed, make_alert):
    alert = every_time(make_alert, Condition.PCT_STEP, percent="3.3333")

    [event] = feed.tick("31234.56789012345678")

    alert.refresh_from_db()
    assert alert.step_reference == event.price == Decimal("31234.56789012345678")
    assert (alert.step_low, alert.step_high) == step_band(
        Condition.PCT_STEP, event.price, Decimal("3.3333")
    )
    assert alert.step_reference_at == alert.last_triggered_at == event.triggered_at


def test_a_repeating_step_fires_again_only_after_another_step(feed, make_alert):
    alert = every_time(make_alert, Condition.PCT_STEP_UP)

    assert fired_ids(feed.tick("31500")) == {alert.pk}
    # 31500 × 1.05 = 33075.
    assert fired_ids(feed.tick("33000", after=COOLDOWN)) == set()
    assert fired_ids(feed.tick("33075", after=COOLDOWN)) == {alert.pk}


def test_a_repeating_step_waits_for_its_cooldown(feed, make_alert):
    alert = every_time(make_alert, Condition.PCT_STEP_UP)

    assert fired_ids(feed.tick("31500")) == {alert.pk}
    assert fired_ids(feed.tick("34000", after=timedelta(minutes=5))) == set()
    # Past the cooldown the price is still beyond the band (33075): it fires.
    assert fired_ids(feed.tick("34000", after=timedelta(minutes=5))) == {alert.pk}


def test_a_once_step_fires_once_and_keeps_its_last_firing_as_reference(feed, make_alert):
    alert = make_alert(Condition.PCT_STEP_UP, percent=Decimal("5"))

    assert fired_ids(feed.tick("31500")) == {alert.pk}
    assert fired_ids(feed.tick("40000", after=COOLDOWN)) == set()
    alert.refresh_from_db()
    assert (alert.status, alert.step_reference) == (Status.TRIGGERED, Decimal("31500"))


def test_an_edit_starts_the_steps_again_from_the_price_now(feed, make_alert, bitcoin):
    alert = every_time(make_alert, Condition.PCT_STEP)
    feed.tick("31500")
    Coin.objects.filter(pk=bitcoin.pk).update(price=Decimal("40000"))
    alert.refresh_from_db()

    alert.percent = Decimal("10")
    alert.save_edit()

    alert.refresh_from_db()
    assert alert.step_reference == Decimal("40000")
    assert (alert.step_low, alert.step_high) == (Decimal("36000"), Decimal("44000"))


def test_a_step_alert_turned_into_another_condition_drops_its_band(make_alert):
    alert = make_alert(Condition.PCT_STEP, percent=Decimal("5"))

    alert.condition, alert.percent, alert.target = Condition.ABOVE, None, Decimal("40000")
    alert.save_edit()

    alert.refresh_from_db()
    assert (alert.step_reference, alert.step_low, alert.step_high) == (None, None, None)


def test_step_alerts_say_how_far_the_price_moved_and_from_where(feed, make_alert):
    every_time(make_alert, Condition.PCT_STEP)

    [first] = feed.tick("31500")
    [second] = feed.tick("29925", after=COOLDOWN)

    assert first.reason == (
        "Price moved up 5.00% from 30000 when the alert was set (30000 → 31500)."
    )
    assert second.reason == ("Price moved down 5.00% from 31500 at the last alert (31500 → 29925).")


def test_after_an_edit_a_step_reason_says_it_counts_from_the_edit(feed, make_alert):
    alert = every_time(make_alert, Condition.PCT_STEP)
    feed.tick("31500")
    alert.refresh_from_db()
    alert.save_edit()  # from the coin's price, 30000 (the fixture's snapshot)

    [event] = feed.tick("28500", after=COOLDOWN)

    assert event.reason == (
        "Price moved down 5.00% from 30000 when the alert was set (30000 → 28500)."
    )
