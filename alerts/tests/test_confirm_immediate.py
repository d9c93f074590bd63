"""'Save anyway' on the already-true warning saves the alert, new or edited."""

from decimal import Decimal

import pytest
from django.urls import reverse

from alerts.models import Alert
from alerts.tests.form_submission import form_values

pytestmark = pytest.mark.django_db

ALREADY_TRUE = {
    "coin": "bitcoin",
    "condition": "above",
    "target": "29000",  # bitcoin is at 30000
    "frequency": "once",
    "cooldown_seconds": "3600",
    "channels": ["email"],
}


def test_save_anyway_on_the_warning_creates_the_alert(client, owner, bitcoin):
    client.force_login(owner)
    warned = client.post(reverse("alerts:create"), ALREADY_TRUE)
    assert "Save anyway" in warned.content.decode()

    response = client.post(
        reverse("alerts:create"), form_values(warned.content.decode(), having="coin")
    )

    assert response.status_code == 302
    assert Alert.objects.get().target == Decimal("29000")


def test_save_anyway_on_the_warning_saves_an_edited_alert(client, owner, make_alert):
    alert = make_alert(target=Decimal("35000"))
    client.force_login(owner)
    url = reverse("alerts:edit", args=[alert.pk])
    warned = client.post(url, ALREADY_TRUE)
    assert "Save anyway" in warned.content.decode()

    response = client.post(url, form_values(warned.content.decode(), having="coin"))

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.target == Decimal("29000")


def test_the_warning_sends_one_confirmation_value(client, owner, bitcoin):
    client.force_login(owner)

    warned = client.post(reverse("alerts:create"), ALREADY_TRUE).content.decode()

    assert form_values(warned, having="coin")["confirm_immediate"] == ["True"]


def test_the_edit_pages_warning_says_save_not_create(client, owner, make_alert):
    alert = make_alert(target=Decimal("35000"))
    client.force_login(owner)

    body = client.post(reverse("alerts:edit", args=[alert.pk]), ALREADY_TRUE).content.decode()

    assert "Save again to keep it anyway." in body
    assert "to create it" not in body
