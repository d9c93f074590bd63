"""Each condition at its boundaries, fed tick by tick through the evaluator."""

from datetime import timedelta
from decimal import Decimal

import pytest

from alerts.models import Condition
from alerts.tests.conftest import fired_ids
from prices.models import Coin

pytestmark = pytest.mark.django_db


def test_above_fires_when_the_price_equals_the_target(feed, make_alert):
    alert = make_alert(Condition.ABOVE, target=Decimal("30000"))

    assert fired_ids(feed.tick("29999.99")) == set()
    assert fired_ids(feed.tick("30000")) == {alert.pk}


def test_below_fires_when_the_price_equals_the_target(feed, make_alert):
    alert = make_alert(Condition.BELOW, target=Decimal("30000"))

    assert fired_ids(feed.tick("30000.01")) == set()
    assert fired_ids(feed.tick("30000")) == {alert.pk}


def test_a_level_alert_fires_on_the_first_tick_when_already_true(feed, make_alert):
    alert = make_alert(Condition.ABOVE, target=Decimal("20000"))

    assert fired_ids(feed.tick("30000")) == {alert.pk}


def test_a_once_alert_fires_only_once(feed, make_alert):
    alert = make_alert(Condition.ABOVE, target=Decimal("30000"))

    feed.tick("30100")
    assert fired_ids(feed.tick("30200")) == set()
    alert.refresh_from_db()
    assert alert.status == "triggered"
    assert alert.events.count() == 1


def test_crosses_up_fires_when_the_price_reaches_the_target_from_below(feed, make_alert):
    alert = make_alert(Condition.CROSSES_UP, target=Decimal("30000"))

    feed.tick("29990")
    assert fired_ids(feed.tick("30000")) == {alert.pk}


def test_crosses_up_does_not_fire_when_the_price_starts_at_the_target(feed, make_alert):
    make_alert(Condition.CROSSES_UP, target=Decimal("30000"))

    feed.tick("30000")
    assert fired_ids(feed.tick("30100")) == set()


def test_crosses_up_does_not_fire_when_already_above(feed, make_alert):
    make_alert(Condition.CROSSES_UP, target=Decimal("30000"))

    feed.tick("30100")
    assert fired_ids(feed.tick("30200")) == set()


def test_crosses_down_fires_on_a_jump_across_the_target(feed, make_alert):
    alert = make_alert(Condition.CROSSES_DOWN, target=Decimal("30000"))

    feed.tick("31000")
    assert fired_ids(feed.tick("29000")) == {alert.pk}


def test_crosses_down_fires_when_the_price_reaches_the_target_from_above(feed, make_alert):
    alert = make_alert(Condition.CROSSES_DOWN, target=Decimal("30000"))

    feed.tick("30000.5")
    assert fired_ids(feed.tick("30000")) == {alert.pk}


def test_crosses_fires_in_both_directions(feed, make_alert):
    up = make_alert(Condition.CROSSES, target=Decimal("30000"), frequency="every_time")
    down = make_alert(Condition.CROSSES, target=Decimal("29000"))

    feed.tick("29500")
    assert fired_ids(feed.tick("30500")) == {up.pk}
    assert fired_ids(feed.tick("28500")) == {down.pk}


def test_an_edge_never_fires_without_a_previous_price(feed, make_alert):
    make_alert(Condition.CROSSES_UP, target=Decimal("30000"))
    make_alert(Condition.CROSSES, target=Decimal("30000"))

    assert fired_ids(feed.tick("30500")) == set()


def test_an_edge_fires_across_a_gap_in_ticks(feed, make_alert):
    alert = make_alert(Condition.CROSSES_UP, target=Decimal("30000"))

    feed.tick("29000")
    assert fired_ids(feed.tick("31000", after=timedelta(hours=3))) == {alert.pk}


def test_one_tick_fires_every_threshold_it_crosses(feed, make_alert):
    targets = ["29100", "29500", "29999.99", "30000"]
    crossed = {make_alert(Condition.CROSSES_UP, target=Decimal(t)).pk for t in targets}
    levels = {make_alert(Condition.ABOVE, target=Decimal(t)).pk for t in targets}
    make_alert(Condition.CROSSES_UP, target=Decimal("30000.01"))
    make_alert(Condition.CROSSES_UP, target=Decimal("29000"))  # equal to the previous price

    feed.tick("29000")
    assert fired_ids(feed.tick("30000")) == crossed | levels


def test_pct_up_fires_when_the_rise_equals_the_percent(feed, make_alert):
    alert = make_alert(Condition.PCT_UP, percent=Decimal("5"), window="1h")

    feed.tick("20000")
    assert fired_ids(feed.tick("20999.99", after=timedelta(minutes=30))) == set()
    assert fired_ids(feed.tick("21000", after=timedelta(minutes=10))) == {alert.pk}


def test_pct_up_ignores_a_fall(feed, make_alert):
    make_alert(Condition.PCT_UP, percent=Decimal("5"), window="1h")

    feed.tick("20000")
    assert fired_ids(feed.tick("18000", after=timedelta(minutes=30))) == set()


def test_pct_down_fires_on_a_fall_within_the_window(feed, make_alert):
    alert = make_alert(Condition.PCT_DOWN, percent=Decimal("10"), window="5m")

    feed.tick("20000")
    assert fired_ids(feed.tick("18000", after=timedelta(minutes=4))) == {alert.pk}


def test_pct_move_fires_on_a_fall_and_on_a_rise(feed, make_alert):
    fall = make_alert(Condition.PCT_MOVE, percent=Decimal("10"), window="24h")

    feed.tick("20000")
    assert fired_ids(feed.tick("17900", after=timedelta(hours=23))) == {fall.pk}
    rise = make_alert(Condition.PCT_MOVE, percent=Decimal("10"), window="24h")
    assert fired_ids(feed.tick("22000", after=timedelta(minutes=1))) == {rise.pk}


def test_a_movement_only_counts_prices_inside_the_window(feed, make_alert):
    make_alert(Condition.PCT_UP, percent=Decimal("5"), window="5m")

    feed.tick("20000")
    feed.tick("20500", after=timedelta(minutes=4))
    # The 20000 tick is now 6 minutes old: the move within 5 minutes is 2.9%.
    assert fired_ids(feed.tick("21100", after=timedelta(minutes=2))) == set()


def test_a_movement_does_not_fire_across_a_gap_longer_than_the_window(feed, make_alert):
    make_alert(Condition.PCT_DOWN, percent=Decimal("5"), window="1h")

    feed.tick("20000")
    assert fired_ids(feed.tick("15000", after=timedelta(hours=2))) == set()


def test_alerts_fire_for_each_window_that_saw_the_move(feed, make_alert):
    hourly = make_alert(Condition.PCT_UP, percent=Decimal("5"), window="1h")
    daily = make_alert(Condition.PCT_UP, percent=Decimal("5"), window="24h")

    feed.tick("20000")
    feed.tick("20000", after=timedelta(hours=2))
    assert fired_ids(feed.tick("21000", after=timedelta(minutes=30))) == {hourly.pk, daily.pk}


def test_paused_alerts_are_not_evaluated(feed, make_alert):
    alert = make_alert(Condition.ABOVE, target=Decimal("100"))
    alert.pause()

    assert fired_ids(feed.tick("30000")) == set()


def test_alerts_of_other_coins_are_not_evaluated(feed, make_alert):
    ether = Coin.objects.create(
        coingecko_id="ethereum", symbol="eth", name="Ether", is_tracked=True
    )
    make_alert(Condition.ABOVE, target=Decimal("100"), coin=ether)

    assert fired_ids(feed.tick("30000")) == set()
