"""What the alert form renders for alert_form.js: field boxes, prices, the zone."""

import re

import pytest

from accounts.models import Profile
from alerts.models import OWNER_FIELDS, Alert
from alerts.tests.test_pages import VALID

pytestmark = pytest.mark.django_db

NEW = "/alerts/new/"


def test_each_field_sits_in_a_box_the_script_can_hide(client, owner, bitcoin):
    client.force_login(owner)

    body = client.get(NEW).content.decode()

    boxes = re.findall(r'<div class="form-field" data-form-field="(\w+)"', body)
    assert boxes == list(OWNER_FIELDS)  # every field the owner sets
    assert "js/alert_form.js" in body
    assert '<label for="id_target">Target price (USD)</label>' in body


def test_the_condition_says_which_conditions_use_a_target_and_which_a_percent(
    client, owner, bitcoin
):
    client.force_login(owner)

    body = client.get(NEW).content.decode()

    assert 'data-price-conditions="above below crosses crosses_down crosses_up"' in body
    assert 'data-movement-conditions="pct_down pct_move pct_up"' in body


def test_each_coin_option_carries_its_price_for_the_presets(client, owner, bitcoin):
    client.force_login(owner)

    body = client.get(NEW).content.decode()

    assert re.search(r'<option value="bitcoin" data-price="30000"', body)


def test_the_expiry_names_the_accounts_time_zone_for_the_presets(client, owner, bitcoin):
    Profile.objects.create(user=owner, time_zone="Asia/Tokyo")
    client.force_login(owner)

    body = client.get(NEW).content.decode()

    assert 'data-time-zone="Asia/Tokyo"' in body


def test_a_value_in_a_field_the_condition_does_not_use_is_still_refused(client, owner, bitcoin):
    client.force_login(owner)

    response = client.post(NEW, {**VALID, "percent": "5"})

    body = response.content.decode()
    assert "A percentage only applies to movement and step alerts." in body
    # Kept in view by the script, so the error is never hidden.
    assert '<div class="form-field" data-form-field="percent" data-has-errors>' in body
    assert not Alert.objects.exists()
