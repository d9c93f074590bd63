"""Market cap, 24 h volume and 24 h change conditions, fed tick by tick through the evaluator."""

from datetime import timedelta
from decimal import Decimal

import pytest

from alerts.models import Condition
from alerts.tests.conftest import fired_ids

pytestmark = pytest.mark.django_db

TRILLION = "1000000000000"


def test_market_cap_above_fires_when_the_market_cap_equals_the_threshold(feed, make_alert):
    alert = make_alert(Condition.MARKET_CAP_ABOVE, threshold=Decimal(TRILLION))

    assert fired_ids(feed.tick("30000", market_cap="999999999999.99")) == set()
    assert fired_ids(feed.tick("30000", market_cap=TRILLION)) == {alert.pk}


def test_market_cap_below_fires_when_the_market_cap_equals_the_threshold(feed, make_alert):
    alert = make_alert(Condition.MARKET_CAP_BELOW, threshold=Decimal(TRILLION))

    assert fired_ids(feed.tick("30000", market_cap="1000000000000.01")) == set()
    assert fired_ids(feed.tick("30000", market_cap=TRILLION)) == {alert.pk}


def test_a_market_cap_of_ten_trillion_fits_the_threshold(feed, make_alert):
    alert = make_alert(Condition.MARKET_CAP_ABOVE, threshold=Decimal("10000000000000"))

    assert fired_ids(feed.tick("30000", market_cap="12345678901234.56")) == {alert.pk}


def test_market_cap_crosses_fires_up_and_down(feed, make_alert):
    alert = make_alert(
        Condition.MARKET_CAP_CROSSES, threshold=Decimal(TRILLION), frequency="every_time"
    )

    feed.tick("30000", market_cap="990000000000")
    assert fired_ids(feed.tick("30000", market_cap="1010000000000")) == {alert.pk}
    later = timedelta(hours=2)  # past the cooldown
    assert fired_ids(feed.tick("30000", after=later, market_cap="980000000000")) == {alert.pk}


def test_market_cap_crosses_does_not_fire_when_already_above(feed, make_alert):
    make_alert(Condition.MARKET_CAP_CROSSES, threshold=Decimal(TRILLION))

    feed.tick("30000", market_cap="1010000000000")
    assert fired_ids(feed.tick("30000", market_cap="1020000000000")) == set()


def test_market_cap_crosses_never_fires_without_a_previous_market_cap(feed, make_alert):
    make_alert(Condition.MARKET_CAP_CROSSES, threshold=Decimal(TRILLION))

    feed.tick("30000")  # CoinGecko sent no market cap
    assert fired_ids(feed.tick("30000", market_cap="1010000000000")) == set()


def test_a_metric_alert_never_fires_on_a_tick_without_its_figure(feed, make_alert):
    make_alert(Condition.MARKET_CAP_BELOW, threshold=Decimal(TRILLION))
    make_alert(Condition.VOLUME_BELOW, threshold=Decimal("1000000000"))
    make_alert(Condition.CHANGE_BELOW, threshold=Decimal("5"))

    assert fired_ids(feed.tick("30000")) == set()


def test_volume_above_and_below_compare_the_24h_volume(feed, make_alert):
    above = make_alert(Condition.VOLUME_ABOVE, threshold=Decimal("30000000000"))
    below = make_alert(Condition.VOLUME_BELOW, threshold=Decimal("20000000000"))

    assert fired_ids(feed.tick("30000", volume_24h="25000000000")) == set()
    assert fired_ids(feed.tick("30000", volume_24h="30000000000")) == {above.pk}
    assert fired_ids(feed.tick("30000", volume_24h="19999999999.99")) == {below.pk}


def test_change_below_a_negative_threshold_fires_at_or_below_it(feed, make_alert):
    alert = make_alert(Condition.CHANGE_BELOW, threshold=Decimal("-5"))

    assert fired_ids(feed.tick("30000", change_24h_pct="-4.9999")) == set()
    assert fired_ids(feed.tick("30000", change_24h_pct="-5")) == {alert.pk}


def test_change_above_fires_at_or_above_the_threshold(feed, make_alert):
    alert = make_alert(Condition.CHANGE_ABOVE, threshold=Decimal("10"))

    assert fired_ids(feed.tick("30000", change_24h_pct="9.99")) == set()
    assert fired_ids(feed.tick("30000", change_24h_pct="12.5")) == {alert.pk}


def test_a_repeating_metric_level_re_arms_only_once_false_again(feed, make_alert):
    alert = make_alert(
        Condition.VOLUME_ABOVE,
        threshold=Decimal("30000000000"),
        frequency="every_time",
        cooldown_seconds=60,
    )
    minutes = timedelta(minutes=2)  # each tick past the cooldown

    assert fired_ids(feed.tick("30000", volume_24h="31000000000")) == {alert.pk}
    # Still above the threshold: disarmed, not just cooling down.
    assert fired_ids(feed.tick("30000", after=minutes, volume_24h="32000000000")) == set()
    assert fired_ids(feed.tick("30000", after=minutes, volume_24h="29000000000")) == set()
    assert fired_ids(feed.tick("30000", after=minutes, volume_24h="30500000000")) == {alert.pk}


def test_a_repeating_metric_level_that_misses_its_figure_stays_disarmed(feed, make_alert):
    alert = make_alert(
        Condition.CHANGE_ABOVE,
        threshold=Decimal("10"),
        frequency="every_time",
        cooldown_seconds=60,
    )
    minutes = timedelta(minutes=2)

    assert fired_ids(feed.tick("30000", change_24h_pct="11")) == {alert.pk}
    feed.tick("30000", after=minutes)  # no 24 h change: not known to be false
    assert fired_ids(feed.tick("30000", after=minutes, change_24h_pct="11")) == set()


def test_metric_alerts_say_why_they_fired_in_short_units(feed, make_alert):
    make_alert(Condition.MARKET_CAP_ABOVE, threshold=Decimal(TRILLION))
    make_alert(Condition.MARKET_CAP_CROSSES, threshold=Decimal(TRILLION))
    make_alert(Condition.VOLUME_ABOVE, threshold=Decimal("30000000000"))
    make_alert(Condition.CHANGE_BELOW, threshold=Decimal("-5.00"))

    feed.tick("30000", market_cap="990000000000", volume_24h="1", change_24h_pct="0")
    events = feed.tick(
        "30000", market_cap="1200000000000", volume_24h="35250000000", change_24h_pct="-6.1"
    )

    assert sorted(event.reason for event in events) == [
        "24 h change -6.1% is at or below -5%.",
        "24 h volume 35.25B is at or above 30B.",
        "Market cap 1.2T is at or above 1T.",
        "Market cap crossed up through 1T (990B → 1.2T).",
    ]
