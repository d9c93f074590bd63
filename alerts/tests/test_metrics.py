"""Evaluation's metrics: batches, the alerts judged, firings by condition, active alerts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from alerts.metrics import (
    ACTIVE_COUNTS_KEY,
    ActiveAlertsCollector,
    active_alert_counts,
    count_active_alerts,
)
from alerts.models import Condition, Status
from alerts.tasks import count_active_alerts as count_active_alerts_task
from prices.tests.metric_values import metric_value

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.delete(ACTIVE_COUNTS_KEY)
    yield
    cache.delete(ACTIVE_COUNTS_KEY)


def fired(condition: str) -> float:
    return metric_value("cryptomonitor_alerts_fired_total", {"condition": condition})


def test_a_fired_alert_is_counted_under_its_condition(feed, make_alert):
    make_alert(Condition.CROSSES_UP, target=Decimal("30000"))
    make_alert(Condition.ABOVE, target=Decimal("100"))
    make_alert(Condition.ABOVE, target=Decimal("200"))
    before = fired("crosses_up"), fired("above"), fired("below")

    feed.tick("29950")
    feed.tick("30010")

    assert (fired("crosses_up"), fired("above"), fired("below")) == (
        before[0] + 1,
        before[1] + 2,
        before[2],
    )


def test_every_batch_is_timed_and_counted_with_the_alerts_on_its_coins(feed, make_alert):
    make_alert(Condition.BELOW, target=Decimal("100"))
    make_alert(Condition.PCT_UP)
    count_active_alerts()  # as beat does every COUNT_EVERY_SECONDS
    batches = metric_value("cryptomonitor_alert_batches_evaluated_total")
    timed = metric_value("cryptomonitor_alert_evaluation_duration_seconds_count")
    judged = metric_value("cryptomonitor_alerts_evaluated_total")

    feed.tick("30000")
    feed.tick("30001")

    assert metric_value("cryptomonitor_alert_batches_evaluated_total") == batches + 2
    assert metric_value("cryptomonitor_alert_evaluation_duration_seconds_count") == timed + 2
    assert metric_value("cryptomonitor_alerts_evaluated_total") == judged + 4


def test_active_alerts_are_counted_per_coin_and_condition_and_cached(
    make_alert, bitcoin, django_assert_num_queries
):
    make_alert(Condition.ABOVE)
    make_alert(Condition.ABOVE)
    make_alert(Condition.PCT_DOWN)
    make_alert(Condition.BELOW, status=Status.PAUSED)

    assert active_alert_counts() == {bitcoin.pk: {"above": 2, "pct_down": 1}}
    make_alert(Condition.BELOW)
    with django_assert_num_queries(0):
        assert active_alert_counts() == {bitcoin.pk: {"above": 2, "pct_down": 1}}


def test_the_active_gauge_has_every_condition(make_alert):
    make_alert(Condition.CROSSES)

    [family] = ActiveAlertsCollector().collect()

    values = {sample.labels["condition"]: sample.value for sample in family.samples}
    assert values == {**dict.fromkeys(Condition.values, 0), "crosses": 1}


def test_evaluation_never_counts_the_alerts_itself_before_beat_has(feed, make_alert):
    make_alert(Condition.BELOW, target=Decimal("100"))
    judged = metric_value("cryptomonitor_alerts_evaluated_total")

    feed.tick("30000")

    assert metric_value("cryptomonitor_alerts_evaluated_total") == judged
    assert cache.get(ACTIVE_COUNTS_KEY) is None


def test_beats_task_counts_the_active_alerts_for_the_next_batches(make_alert, bitcoin):
    make_alert(Condition.ABOVE)

    count_active_alerts_task()

    assert cache.get(ACTIVE_COUNTS_KEY) == {bitcoin.pk: {"above": 1}}
