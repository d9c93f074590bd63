"""Rules of the market, range and step conditions (Alert.full_clean), in the form and the API."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from alerts.models import Alert
from alerts.tests.test_pages import VALID
from prices.models import Coin

pytestmark = pytest.mark.django_db


@pytest.fixture
def build(owner, bitcoin):
    def build(condition: str, **fields) -> Alert:
        return Alert(**{"user": owner, "coin": bitcoin, "condition": condition, **fields})

    return build


def errors_of(alert: Alert) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        alert.full_clean()
    return caught.value.message_dict


@pytest.mark.parametrize(
    ("condition", "threshold"),
    [
        ("market_cap_above", "10000000000000"),
        ("market_cap_crosses", "0.01"),
        ("volume_24h_below", "5000000"),
        ("change_24h_below", "-5"),
        ("change_24h_above", "10000"),
    ],
)
def test_it_accepts_a_metric_alert_with_its_threshold(build, condition, threshold):
    build(condition, threshold=threshold).full_clean()


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("market_cap_above", "Enter a market cap."),
        ("volume_24h_above", "Enter a 24 h volume."),
        ("change_24h_below", "Enter a 24 h change in percent."),
    ],
)
def test_it_requires_a_threshold_for_metric_conditions(build, condition, message):
    assert errors_of(build(condition)) == {"threshold": [message]}


@pytest.mark.parametrize(
    ("condition", "threshold", "message"),
    [
        ("market_cap_below", "0", "Enter a market cap above zero."),
        ("volume_24h_above", "-1", "Enter a 24 h volume above zero."),
        (
            "change_24h_below",
            "-100",
            "Enter a 24 h change in percent above -100 and at most 10000, e.g. 10 or -5.",
        ),
        (
            "change_24h_above",
            "10000.01",
            "Enter a 24 h change in percent above -100 and at most 10000, e.g. 10 or -5.",
        ),
    ],
)
def test_it_rejects_thresholds_out_of_each_metrics_range(build, condition, threshold, message):
    assert errors_of(build(condition, threshold=threshold)) == {"threshold": [message]}


def test_it_rejects_a_threshold_with_more_than_16_integer_digits(build):
    assert errors_of(build("market_cap_above", threshold="10000000000000000")) == {
        "threshold": ["Ensure that there are no more than 16 digits before the decimal point."]
    }


def test_it_rejects_a_threshold_on_a_price_condition(build):
    alert = build("above", target="30000", threshold="5")

    assert errors_of(alert) == {
        "threshold": ["A threshold only applies to market cap, volume and 24 h change alerts."]
    }


def test_it_rejects_a_target_on_a_metric_condition(build):
    alert = build("market_cap_above", threshold="1000", target="30000")

    assert errors_of(alert) == {"target": ["A target price only applies to price alerts."]}


def test_it_accepts_a_range_alert(build):
    build("exits_range", range_low="30000", range_high="31000.5").full_clean()


def test_it_requires_both_ends_of_a_range(build):
    assert errors_of(build("enters_range")) == {
        "range_low": ["Enter the low price of the range."],
        "range_high": ["Enter the high price of the range."],
    }


@pytest.mark.parametrize("high", ["30000", "29999"])
def test_it_requires_the_high_end_of_a_range_above_the_low_one(build, high):
    alert = build("enters_range", range_low="30000", range_high=high)

    assert errors_of(alert) == {"range_high": ["Enter a high price above the low one."]}


def test_it_requires_positive_prices_for_a_range(build):
    alert = build("exits_range", range_low="0", range_high="100")

    assert errors_of(alert) == {"range_low": ["Enter a price above zero."]}


def test_it_rejects_a_range_on_another_condition(build):
    alert = build("below", target="30000", range_low="1", range_high="2")

    assert errors_of(alert) == {
        "range_low": ["A range only applies to range alerts."],
        "range_high": ["A range only applies to range alerts."],
    }


def test_it_accepts_a_step_up_of_1000_percent(build):
    build("pct_step_up", percent="1000").full_clean()


def test_it_requires_a_percentage_for_a_step(build):
    assert errors_of(build("pct_step")) == {"percent": ["Enter a percentage."]}


@pytest.mark.parametrize("condition", ["pct_step", "pct_step_down"])
def test_it_rejects_a_step_down_of_100_percent_or_more(build, condition):
    assert errors_of(build(condition, percent="100")) == {
        "percent": ["A step down of 100% or more would need a price of zero: enter less than 100."]
    }


def test_it_rejects_a_window_on_a_step(build):
    alert = build("pct_step", percent="5", window="1h")

    assert errors_of(alert) == {"window": ["A window only applies to movement alerts."]}


def test_it_rejects_a_step_on_a_coin_without_a_price(build):
    priceless = Coin.objects.create(
        coingecko_id="newcoin", symbol="new", name="Newcoin", is_tracked=True
    )

    assert errors_of(build("pct_step_up", percent="5", coin=priceless)) == {
        "coin": ["Newcoin has no price yet, and a step starts from it."]
    }


def test_the_form_shows_the_rules_messages(client, owner, bitcoin):
    client.force_login(owner)
    data = {**VALID, "condition": "enters_range", "target": "", "range_low": "31000"}

    body = client.post(reverse("alerts:create"), {**data, "range_high": "30000"}).content

    assert "Enter a high price above the low one." in body.decode()
    assert not Alert.objects.exists()


def test_the_form_saves_a_step_alert_from_the_price_now(client, owner, bitcoin):
    client.force_login(owner)
    data = {**VALID, "condition": "pct_step", "target": "", "percent": "5"}

    response = client.post(reverse("alerts:create"), data)

    assert response.status_code == 302
    alert = Alert.objects.get()
    assert (alert.step_low, alert.step_high) == (Decimal("28500"), Decimal("31500"))


def test_the_api_reports_the_rules_messages_per_field(owner_api, bitcoin):
    response = owner_api.post(
        "/api/v1/alerts/",
        {"coin": "bitcoin", "condition": "change_24h_below", "threshold": "-150"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "threshold": ["Enter a 24 h change in percent above -100 and at most 10000, e.g. 10 or -5."]
    }


def test_the_api_creates_a_step_alert_and_shows_its_band(owner_api, bitcoin):
    response = owner_api.post(
        "/api/v1/alerts/",
        {"coin": "bitcoin", "condition": "pct_step_down", "percent": "2.5"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["step_reference"], body["step_low"], body["step_high"]) == (
        "30000",
        "29250",
        None,
    )
    assert body["description"] == "price falls by a step of 2.5% from 30000"


def test_the_api_ignores_a_band_sent_by_the_client(owner_api, bitcoin):
    response = owner_api.post(
        "/api/v1/alerts/",
        {"coin": "bitcoin", "condition": "pct_step_up", "percent": "5", "step_high": "1"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["step_high"] == "31500"
