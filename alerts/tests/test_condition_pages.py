"""The market, range and step conditions on the pages: form, list and admin."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from alerts.models import Alert, Condition
from alerts.tests.test_admin import set_status_in_the_change_form
from alerts.tests.test_alert_list import listed
from alerts.tests.test_pages import VALID
from prices.models import Coin

pytestmark = pytest.mark.django_db

NEW = "/alerts/new/"


def test_the_condition_says_which_conditions_use_which_fields(client, owner, bitcoin):
    client.force_login(owner)

    body = client.get(NEW).content.decode()

    assert (
        'data-metric-conditions="change_24h_above change_24h_below market_cap_above '
        'market_cap_below market_cap_crosses volume_24h_above volume_24h_below"'
    ) in body
    assert 'data-range-conditions="enters_range exits_range"' in body
    assert 'data-step-conditions="pct_step pct_step_down pct_step_up"' in body


def test_the_condition_menu_groups_the_conditions_by_kind(client, owner, bitcoin):
    client.force_login(owner)

    body = client.get(NEW).content.decode()

    groups = re.findall(r'<optgroup label="([^"]+)">', body)
    assert groups == [
        "Price",
        "Price range",
        "Price movement within a window",
        "Price steps",
        "Market cap, volume and 24 h change",
    ]
    assert '<option value="market_cap_crosses">market cap crosses</option>' in body


def test_the_range_fields_are_labelled_in_the_quote_currency(client, owner, bitcoin):
    client.force_login(owner)

    body = client.get(NEW).content.decode()

    assert '<label for="id_range_low">Range from (USD)</label>' in body
    assert '<label for="id_range_high">Range to (USD)</label>' in body


def test_the_form_warns_when_a_metric_level_is_already_true(client, owner, bitcoin):
    Coin.objects.filter(pk=bitcoin.pk).update(market_cap=Decimal("600000000000"))
    client.force_login(owner)
    data = {**VALID, "condition": "market_cap_above", "target": "", "threshold": "500000000000"}

    warned = client.post(reverse("alerts:create"), data)

    body = warned.content.decode()
    assert "Already true now (market cap is at or above 500000000000)" in body
    assert not Alert.objects.exists()


def test_the_form_creates_a_range_alert(client, owner, bitcoin):
    client.force_login(owner)
    data = {**VALID, "condition": "exits_range", "target": "", "range_low": "29000"}

    response = client.post(reverse("alerts:create"), {**data, "range_high": "31000"})

    assert response.status_code == 302
    alert = Alert.objects.get()
    assert alert.describe() == "price exits the range 29000–31000"


def test_the_list_shows_a_market_cap_alerts_distance_in_short_units(
    client, owner, make_alert, bitcoin
):
    Coin.objects.filter(pk=bitcoin.pk).update(market_cap=Decimal("500000000000"))
    alert = make_alert(Condition.MARKET_CAP_ABOVE, threshold=Decimal("600000000000"))

    row = listed(client, owner, alert)

    assert "+20.00%" in row
    assert "(+$100.00B)" in row
    assert 'data-label="To threshold"' in row


def test_the_list_shows_a_24h_change_alerts_distance_in_points(client, owner, make_alert, bitcoin):
    Coin.objects.filter(pk=bitcoin.pk).update(change_24h_pct=Decimal("2.5"))
    alert = make_alert(Condition.CHANGE_BELOW, threshold=Decimal("-5"))

    row = listed(client, owner, alert)

    assert '<span class="distance-amount">-7.50 points</span>' in row


def test_the_list_shows_a_range_alerts_distance_to_the_nearer_bound(client, owner, make_alert):
    alert = make_alert(
        Condition.ENTERS_RANGE, range_low=Decimal("31500"), range_high=Decimal("33000")
    )

    row = listed(client, owner, alert)

    assert "+5.00%" in row
    assert "(+$1,500.00)" in row
    assert 'data-label="To the range"' in row


def test_the_list_shows_a_step_alerts_distance_to_the_nearer_trigger(client, owner, make_alert):
    alert = make_alert(Condition.PCT_STEP_DOWN, percent=Decimal("2"))

    row = listed(client, owner, alert)

    assert "-2.00%" in row
    assert "(-$600.00)" in row
    assert 'data-label="To next step"' in row


def test_the_admin_lists_the_new_conditions_in_words(admin_client, make_alert):
    make_alert(Condition.VOLUME_BELOW, threshold=Decimal("2000000000"))

    response = admin_client.get(
        reverse("admin:alerts_alert_changelist"), {"condition": "volume_24h_below"}
    )

    assert "24 h volume is at or below 2000000000" in response.content.decode()


def test_an_admin_edit_starts_a_step_alerts_steps_from_the_price_now(
    admin_client, make_alert, bitcoin
):
    alert = make_alert(Condition.PCT_STEP, percent=Decimal("5"))
    Coin.objects.filter(pk=bitcoin.pk).update(price=Decimal("40000"))

    response = set_status_in_the_change_form(admin_client, alert, "paused")

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.step_reference, alert.step_low, alert.step_high) == (
        Decimal("40000"),
        Decimal("38000"),
        Decimal("42000"),
    )


def test_the_admin_shows_a_step_alerts_band(admin_client, make_alert):
    alert = make_alert(Condition.PCT_STEP_UP, percent=Decimal("5"))

    response = admin_client.get(reverse("admin:alerts_alert_change", args=[alert.pk]))

    body = response.content.decode()
    assert "Step high" in body
    assert "31500" in body


def test_the_coin_chart_draws_no_line_for_market_range_or_step_alerts(
    client, owner, make_alert, bitcoin
):
    # Their numbers are not prices on the chart's scale (a market cap), or
    # not one price (a range, a moving band).
    make_alert(Condition.MARKET_CAP_ABOVE, threshold=Decimal("600000000000"))
    make_alert(Condition.ENTERS_RANGE, range_low=Decimal("1"), range_high=Decimal("2"))
    make_alert(Condition.PCT_STEP, percent=Decimal("5"))
    client.force_login(owner)

    body = client.get(bitcoin.get_absolute_url()).content.decode()

    assert '<script id="alert-price-lines" type="application/json">[]</script>' in body


def test_a_step_alerts_page_says_where_the_next_step_is(client, owner, make_alert):
    alert = make_alert(Condition.PCT_STEP, percent=Decimal("5"))
    client.force_login(owner)

    body = client.get(alert.get_absolute_url()).content.decode()

    assert (
        "Steps from 30000, the price when the alert was set: next at 28500 or below or "
        "31500 or above."
    ) in body


def test_after_a_firing_a_step_alerts_page_counts_from_the_firing_price(
    client, owner, make_alert, feed
):
    alert = make_alert(Condition.PCT_STEP_UP, percent=Decimal("5"), frequency="every_time")
    feed.tick("31500")
    client.force_login(owner)

    body = client.get(alert.get_absolute_url()).content.decode()

    assert "Steps from 31500, the price at the last alert: next at 33075 or above." in body
