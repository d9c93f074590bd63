"""The alert pages in the alert's currency: the form, the list's distances, the history."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Profile
from alerts.models import Alert, Condition
from alerts.tests.currencies import euro_event, set_rate

pytestmark = pytest.mark.django_db

CREATE = reverse("alerts:create")


def reads_in(user, currency: str) -> None:
    Profile.objects.update_or_create(user=user, defaults={"display_currency": currency})


def selected_currency(body: str) -> str:
    select = re.search(r'<select name="currency".*?</select>', body, re.DOTALL).group(0)
    return re.search(r'<option value="(\w+)" selected', select).group(1)


def row_of(body: str, alert: Alert) -> str:
    return re.search(rf'<tr data-alert-id="{alert.pk}".*?</tr>', body, re.DOTALL).group(0)


def test_a_new_alert_starts_in_the_readers_display_currency(client, owner, bitcoin):
    reads_in(owner, "eur")
    client.force_login(owner)

    body = client.get(CREATE).content.decode()

    assert selected_currency(body) == "eur"
    assert "Target price (EUR)" in body


def test_an_alert_being_edited_shows_its_own_currency_not_the_readers(client, owner, make_alert):
    reads_in(owner, "eur")
    alert = make_alert(currency="gbp")
    client.force_login(owner)

    body = client.get(reverse("alerts:edit", args=[alert.pk])).content.decode()

    assert selected_currency(body) == "gbp"
    assert "Range from (GBP)" in body


def test_the_form_gives_its_presets_the_usable_rates_only(client, owner, bitcoin):
    set_rate("eur")
    set_rate("gbp", "0.8", age=timedelta(days=1))  # stale
    client.force_login(owner)

    body = client.get(CREATE).content.decode()

    script = re.search(r'id="alert-currency-rates"[^>]*>(.*?)</script>', body).group(1)
    assert json.loads(script) == {"usd": "1", "eur": "0.9"}


def test_a_prefilled_target_without_a_currency_is_in_the_base_whatever_the_reader_uses(
    client, owner, bitcoin
):
    reads_in(owner, "eur")
    client.force_login(owner)

    body = client.get(CREATE, {"coin": "bitcoin", "target": "31000"}).content.decode()

    assert selected_currency(body) == "usd"


def test_a_prefilled_target_is_compared_in_its_currency_to_choose_above_or_below(
    client, owner, bitcoin
):
    set_rate("eur")  # bitcoin at 30000 USD is 27000 EUR
    client.force_login(owner)

    response = client.get(CREATE, {"coin": "bitcoin", "target": "28000", "currency": "eur"})

    assert response.context["form"].initial["condition"] == Condition.ABOVE


def test_the_list_measures_a_euro_alerts_distance_in_euros(client, owner, make_alert):
    set_rate("eur")  # bitcoin at 30000 USD is 27000 EUR
    alert = make_alert(target=Decimal("28350"), currency="eur")
    client.force_login(owner)

    row = row_of(client.get("/alerts/").content.decode(), alert)

    assert "+5.00%" in row
    assert "(+€1,350.00)" in row


def test_a_euro_alert_has_no_distance_while_the_euro_rate_is_stale(client, owner, make_alert):
    set_rate("eur", age=timedelta(days=1))
    alert = make_alert(target=Decimal("28350"), currency="eur")
    client.force_login(owner)

    row = row_of(client.get("/alerts/").content.decode(), alert)

    assert 'class="muted">—</span>' in row
    assert "data-target" not in row  # nor a live one


def test_the_list_row_gives_the_live_distance_the_alerts_rate(client, owner, make_alert):
    set_rate("eur")
    alert = make_alert(target=Decimal("28350"), currency="eur")
    client.force_login(owner)

    row = row_of(client.get("/alerts/").content.decode(), alert)

    assert 'data-target="28350" data-factor="0.9" data-currency="eur"' in row


def test_the_history_shows_each_price_in_the_events_currency(client, owner, make_alert, bitcoin):
    alert = make_alert(target=Decimal("27000"), currency="eur")
    euro_event(alert)
    client.force_login(owner)

    body = client.get(alert.get_absolute_url()).content.decode()

    assert '<td data-label="Price" class="number">€27,090.00</td>' in body


def test_the_step_band_on_the_alerts_page_names_its_currency(client, owner, make_alert):
    set_rate("eur")  # bitcoin at 30000 USD is 27000 EUR
    alert = make_alert(Condition.PCT_STEP, percent=Decimal("5"), currency="eur")
    client.force_login(owner)

    body = client.get(alert.get_absolute_url()).content.decode()

    assert "Steps from 27000 EUR, the price when the alert was set" in body
    assert "next at 25650 EUR or below or 28350 EUR or above." in body


def test_an_alert_in_a_currency_no_longer_offered_keeps_it_in_the_form_rather_than_the_first(
    client, owner, make_alert, settings
):
    alert = make_alert(currency="chf")
    settings.DISPLAY_CURRENCIES = ["usd", "eur"]
    client.force_login(owner)

    body = client.get(reverse("alerts:edit", args=[alert.pk])).content.decode()

    assert '<option value="chf" selected>CHF (no longer offered)</option>' in body
    assert "Target price (CHF)" in body


def test_a_reader_whose_display_currency_is_no_longer_offered_starts_in_the_base(
    client, owner, bitcoin, settings
):
    reads_in(owner, "chf")
    settings.DISPLAY_CURRENCIES = ["usd", "eur"]
    client.force_login(owner)

    body = client.get(CREATE).content.decode()

    assert selected_currency(body) == "usd"
    assert "Target price (USD)" in body


def test_the_form_shows_the_coins_price_in_the_alerts_currency_beside_the_base(
    client, owner, bitcoin
):
    set_rate("eur")
    reads_in(owner, "eur")
    client.force_login(owner)

    body = client.get(CREATE + "?coin=bitcoin").content.decode()

    assert '<strong data-coin-price="bitcoin">30000</strong> USD<span' in body
    assert 'data-base-currency="USD">, €27,000.00</span>' in body


def test_a_form_posted_with_an_empty_currency_saves_the_alert_in_the_base(client, owner, bitcoin):
    client.force_login(owner)

    response = client.post(
        CREATE,
        {"coin": "bitcoin", "condition": "above", "target": "90000", "currency": "",
         "frequency": "once", "cooldown_seconds": "3600", "channels": ["email"]},
    )  # fmt: skip

    assert response.status_code == 302
    assert Alert.objects.get().currency == "usd"


def test_a_market_cap_alert_in_yen_is_checked_against_the_cap_in_yen_without_error(
    client, owner, bitcoin
):
    set_rate("jpy", "150")
    bitcoin.market_cap = Decimal("1900000000000")  # 2.85e14 JPY: 29 significant digits
    bitcoin.save()
    client.force_login(owner)

    response = client.post(
        CREATE,
        {"coin": "bitcoin", "condition": "market_cap_above", "threshold": "300000000000000",
         "currency": "jpy", "frequency": "once", "cooldown_seconds": "3600",
         "channels": ["email"]},
    )  # fmt: skip

    assert response.status_code == 302
    assert Alert.objects.get().currency == "jpy"
