"""Pause, resume (re-arm), the description in words and the immediate-fire warning."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts.models import Alert, Condition

pytestmark = pytest.mark.django_db


def test_it_pauses_an_active_alert(make_alert):
    alert = make_alert()

    assert alert.pause()
    assert alert.status == "paused"


def test_it_does_not_pause_a_triggered_alert(make_alert):
    alert = make_alert(status="triggered")

    assert not alert.pause()
    assert alert.status == "triggered"


def test_an_edit_keeps_a_firing_that_happened_since_the_alert_was_read(make_alert):
    alert = make_alert()
    fired_at = timezone.now()
    Alert.objects.filter(pk=alert.pk).update(status="triggered", last_triggered_at=fired_at)

    alert.note = "take profit"
    alert.save_edit()

    alert.refresh_from_db()
    assert (alert.note, alert.status, alert.last_triggered_at) == (
        "take profit",
        "triggered",
        fired_at,
    )


def test_resume_re_arms_and_clears_the_cooldown(make_alert):
    alert = make_alert(
        status="paused", armed=False, cooldown_until=timezone.now() + timedelta(hours=1)
    )

    assert alert.resume()
    assert (alert.status, alert.armed, alert.cooldown_until) == ("active", True, None)


def test_resume_re_arms_a_triggered_once_alert(make_alert):
    alert = make_alert(status="triggered")

    assert alert.resume()
    assert alert.status == "active"


def test_resume_leaves_an_active_alert_alone(make_alert):
    assert not make_alert().resume()


def test_resume_refuses_an_alert_past_its_expiry(make_alert):
    alert = make_alert(status="paused", expires_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(ValidationError, match="expired"):
        alert.resume()
    alert.refresh_from_db()
    assert alert.status == "paused"


def test_resume_respects_the_active_cap(make_alert, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    make_alert()
    alert = make_alert(status="paused")

    with pytest.raises(ValidationError, match="1 active alerts"):
        alert.resume()


def test_it_describes_price_and_movement_conditions_in_words(make_alert):
    level = make_alert(Condition.CROSSES_UP, target=Decimal("30000.50"))
    movement = make_alert(Condition.PCT_DOWN, percent=Decimal("2.5000"), window="5m")

    assert str(level) == "BTC price crosses up through 30000.5"
    assert movement.describe() == "price falls by 2.5% within 5 minutes"


@pytest.mark.parametrize(
    ("condition", "price", "fires"),
    [
        ("above", "30000", True),
        ("above", "29999", False),
        ("below", "30000", True),
        ("below", "30001", False),
        ("crosses_up", "40000", False),
    ],
)
def test_it_tells_when_a_level_alert_would_fire_at_once(make_alert, condition, price, fires):
    alert = make_alert(condition, target=Decimal("30000"))

    assert alert.would_fire_at(Decimal(price)) is fires
