"""Every rule of Alert.full_clean() (docs/alerts.md#validation), with the message people see."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from alerts.models import Alert
from prices.models import Coin

pytestmark = pytest.mark.django_db


@pytest.fixture
def build(owner, bitcoin):
    def build(**fields) -> Alert:
        defaults = {"user": owner, "coin": bitcoin, "condition": "above", "target": "30000"}
        return Alert(**{**defaults, **fields})

    return build


def errors_of(alert: Alert) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        alert.full_clean()
    return caught.value.message_dict


def test_it_accepts_a_price_alert(build):
    build().full_clean()


def test_it_accepts_a_movement_alert(build):
    build(condition="pct_move", target=None, percent="2.5", window="5m").full_clean()


@pytest.mark.parametrize("target", ["0", "-1"])
def test_it_rejects_prices_that_are_not_positive(build, target):
    assert errors_of(build(target=target)) == {"target": ["Enter a price above zero."]}


@pytest.mark.parametrize("target", ["NaN", "Infinity", "-Infinity", "abc"])
def test_it_rejects_prices_that_are_not_finite_numbers(build, target):
    assert errors_of(build(target=target))["target"] == [
        "Enter the price as a plain number, e.g. 30000 or 0.00012."
    ]


def test_it_rejects_prices_with_more_than_12_integer_digits(build):
    build(target="999999999999.5").full_clean()

    assert errors_of(build(target="1000000000000")) == {
        "target": ["Ensure that there are no more than 12 digits before the decimal point."]
    }


def test_it_requires_a_target_for_price_conditions(build):
    assert errors_of(build(target=None)) == {"target": ["Enter a target price."]}


def test_it_rejects_movement_parameters_on_price_conditions(build):
    assert errors_of(build(percent="5", window="1h")) == {
        "percent": ["A percentage only applies to movement and step alerts."],
        "window": ["A window only applies to movement alerts."],
    }


@pytest.mark.parametrize("percent", ["0", "-5", "1000.0001"])
def test_it_rejects_percentages_outside_0_to_1000(build, percent):
    alert = build(condition="pct_up", target=None, percent=percent, window="1h")

    assert errors_of(alert) == {"percent": ["Enter a percentage above 0 and at most 1000."]}


def test_it_accepts_a_percentage_of_1000(build):
    build(condition="pct_up", target=None, percent="1000", window="1h").full_clean()


def test_it_requires_percent_and_window_for_movement_conditions(build):
    assert errors_of(build(condition="pct_down", target=None)) == {
        "percent": ["Enter a percentage."],
        "window": ["Choose a window: 5 minutes, 1 hour or 24 hours."],
    }


def test_it_rejects_a_target_on_movement_conditions(build):
    alert = build(condition="pct_down", percent="5", window="1h")

    assert errors_of(alert) == {"target": ["A target price only applies to price alerts."]}


def test_it_rejects_an_unknown_window(build):
    alert = build(condition="pct_up", target=None, percent="5", window="2h")

    assert errors_of(alert) == {"window": ["Value '2h' is not a valid choice."]}


def test_it_rejects_an_unknown_condition(build):
    assert errors_of(build(condition="sideways")) == {
        "condition": ["Value 'sideways' is not a valid choice."]
    }


def test_it_rejects_a_coin_that_does_not_exist(build):
    alert = build(coin=None, coin_id=999999)

    assert errors_of(alert) == {"coin": ["This coin does not exist."]}


def test_it_rejects_a_coin_that_is_not_tracked(build):
    dogecoin = Coin.objects.create(coingecko_id="dogecoin", symbol="doge", name="Dogecoin")

    assert errors_of(build(coin=dogecoin)) == {
        "coin": ["Dogecoin is not tracked here, so its price never updates."]
    }


def test_it_rejects_an_expiry_in_the_past(build):
    alert = build(expires_at=timezone.now() - timedelta(seconds=1))

    assert errors_of(alert) == {"expires_at": ["Choose an expiry in the future."]}


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ([], "Choose at least one channel."),
        ("email", "Choose at least one channel."),
        (
            ["email", "pigeon"],
            "Unknown channel pigeon; choose from email, in_app, webhook, apprise, web_push.",
        ),
        (["email", "email"], "List each channel only once."),
    ],
)
def test_it_rejects_bad_channel_lists(build, channels, message):
    assert errors_of(build(channels=channels)) == {"channels": [message]}


def test_it_requires_a_cooldown_of_a_minute_for_repeating_alerts(build):
    build(frequency="every_time", cooldown_seconds=60).full_clean()

    assert errors_of(build(frequency="every_time", cooldown_seconds=59)) == {
        "cooldown_seconds": ["An alert that repeats needs a cooldown of 60 s or more."]
    }


def test_it_caps_the_active_alerts_of_a_user(build, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 2
    build().save()
    build(status="paused").save()
    build().save()

    assert errors_of(build()) == {
        NON_FIELD_ERRORS: [
            "You already have 2 active alerts, the most allowed: pause or delete one first."
        ]
    }
    build(status="paused").full_clean()


def test_the_cap_lets_an_alert_at_the_cap_be_edited(build, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    alert = build()
    alert.save()

    alert.target = Decimal("31000")
    alert.full_clean()


def test_the_cap_counts_only_the_users_own_alerts(build, settings, stranger):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    build(user=stranger).save()

    build().full_clean()
