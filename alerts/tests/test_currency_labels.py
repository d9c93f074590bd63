"""The alert form names the configured quote currency (VS_CURRENCY), not always USD."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_form_names_the_configured_currency(client, owner, bitcoin, settings):
    settings.VS_CURRENCY = "eur"
    client.force_login(owner)

    page = client.get(reverse("alerts:create") + "?coin=bitcoin").content.decode()

    assert "Target price (EUR)" in page
    assert "30000</strong> EUR" in page
    assert "USD" not in page


def test_it_still_says_usd_by_default(client, owner, bitcoin, settings):
    settings.VS_CURRENCY = "usd"
    client.force_login(owner)

    page = client.get(reverse("alerts:create") + "?coin=bitcoin").content.decode()

    assert "Target price (USD)" in page
    assert "30000</strong> USD" in page
