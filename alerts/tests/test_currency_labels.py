"""The alert form names the configured quote currency (VS_CURRENCY), not always USD."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("setting", "code", "other"), [("eur", "EUR", "USD"), ("usd", "USD", "EUR")]
)
def test_the_form_names_the_configured_currency(
    client, owner, bitcoin, settings, setting, code, other
):
    settings.VS_CURRENCY = setting
    client.force_login(owner)

    page = client.get(reverse("alerts:create") + "?coin=bitcoin").content.decode()

    assert f"Target price ({code})" in page
    assert f"30000</strong> {code}" in page
    assert f"Target price ({other})" not in page
    assert f"{other}</span>, e.g." not in page
