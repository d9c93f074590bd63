"""Range conditions (enters_range, exits_range), fed tick by tick through the evaluator."""

from datetime import timedelta
from decimal import Decimal

import pytest

from alerts.models import Condition
from alerts.tests.conftest import fired_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_range(make_alert):
    def make(condition: str, **fields):
        return make_alert(
            condition, range_low=Decimal("30000"), range_high=Decimal("31000"), **fields
        )

    return make


def test_enters_range_fires_when_a_rise_reaches_the_low_bound(feed, make_range):
    alert = make_range(Condition.ENTERS_RANGE)

    feed.tick("29999.99")
    assert fired_ids(feed.tick("30000")) == {alert.pk}


def test_enters_range_fires_when_a_fall_reaches_the_high_bound(feed, make_range):
    alert = make_range(Condition.ENTERS_RANGE)

    feed.tick("31000.01")
    assert fired_ids(feed.tick("31000")) == {alert.pk}


def test_enters_range_does_not_fire_on_moves_inside_the_range(feed, make_range):
    make_range(Condition.ENTERS_RANGE)

    feed.tick("30000")
    assert fired_ids(feed.tick("30500")) == set()
    assert fired_ids(feed.tick("31000")) == set()


def test_enters_range_never_fires_without_a_previous_price(feed, make_range):
    make_range(Condition.ENTERS_RANGE)

    assert fired_ids(feed.tick("30500")) == set()


def test_a_jump_across_the_whole_range_neither_enters_nor_exits_it(feed, make_range):
    make_range(Condition.ENTERS_RANGE)
    make_range(Condition.EXITS_RANGE)

    feed.tick("29000")
    assert fired_ids(feed.tick("32000")) == set()
    assert fired_ids(feed.tick("29500")) == set()


def test_exits_range_fires_when_a_rise_leaves_over_the_high_bound(feed, make_range):
    alert = make_range(Condition.EXITS_RANGE)

    feed.tick("31000")
    assert fired_ids(feed.tick("31000.01")) == {alert.pk}


def test_exits_range_fires_when_a_fall_leaves_under_the_low_bound(feed, make_range):
    alert = make_range(Condition.EXITS_RANGE)

    feed.tick("30000")
    assert fired_ids(feed.tick("29999.99")) == {alert.pk}


def test_exits_range_does_not_fire_while_the_price_stays_on_a_bound(feed, make_range):
    make_range(Condition.EXITS_RANGE)

    feed.tick("30500")
    assert fired_ids(feed.tick("30000")) == set()
    assert fired_ids(feed.tick("31000")) == set()


def test_exits_range_does_not_fire_on_moves_outside_the_range(feed, make_range):
    make_range(Condition.EXITS_RANGE)

    feed.tick("29000")
    assert fired_ids(feed.tick("29900")) == set()


def test_a_repeating_range_alert_waits_for_its_cooldown(feed, make_range):
    alert = make_range(Condition.ENTERS_RANGE, frequency="every_time", cooldown_seconds=600)

    feed.tick("29900")
    assert fired_ids(feed.tick("30100")) == {alert.pk}
    feed.tick("29900", after=timedelta(minutes=1))
    assert fired_ids(feed.tick("30100", after=timedelta(minutes=1))) == set()
    feed.tick("29900", after=timedelta(minutes=10))
    assert fired_ids(feed.tick("30100", after=timedelta(minutes=1))) == {alert.pk}


def test_range_alerts_say_which_way_the_price_went_through_the_range(feed, make_range):
    make_range(Condition.ENTERS_RANGE)
    make_range(Condition.EXITS_RANGE)

    feed.tick("29900")
    [entered] = feed.tick("30500")
    [left] = feed.tick("31200")

    assert entered.reason == "Price 30500 entered the range 30000–31000 (29900 → 30500)."
    assert left.reason == "Price 31200 left the range 30000–31000 (30500 → 31200)."
