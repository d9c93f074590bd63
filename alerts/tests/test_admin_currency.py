"""The alert admin shows and filters the alerts' and events' currencies."""

from decimal import Decimal

import pytest
from django.urls import reverse

from alerts.tests.currencies import euro_event

pytestmark = pytest.mark.django_db


def test_the_alert_changelist_filters_by_currency_and_shows_it(admin_client, make_alert):
    make_alert(target=Decimal("111"))
    make_alert(target=Decimal("222"), currency="eur")

    body = admin_client.get(
        reverse("admin:alerts_alert_changelist"), {"currency": "eur"}
    ).content.decode()

    assert "price is at or above 222 EUR" in body
    assert "price is at or above 111" not in body
    assert '<td class="field-currency">eur</td>' in body


def test_the_alert_change_form_offers_the_display_currencies(admin_client, make_alert):
    alert = make_alert(currency="eur")

    body = admin_client.get(reverse("admin:alerts_alert_change", args=[alert.pk])).content.decode()

    assert '<option value="eur" selected>EUR: Euro</option>' in body


def test_the_event_changelist_shows_the_currency_and_the_exchange_rate(
    admin_client, make_alert, bitcoin
):
    alert = make_alert(currency="eur")
    euro_event(alert)

    body = admin_client.get(
        reverse("admin:alerts_alertevent_changelist"), {"currency": "eur"}
    ).content.decode()

    assert '<td class="field-currency">eur</td>' in body
    assert '<td class="field-exchange_rate">0.9' in body
