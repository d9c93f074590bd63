"""The words people read agree between the form, the API and the pages."""

import pytest
from django.urls import reverse

from alerts.models import UNKNOWN_COIN_MESSAGE
from alerts.tests.test_api_alerts import error_fields, post

pytestmark = pytest.mark.django_db


def test_the_api_refuses_an_unknown_coin_in_the_forms_words(owner_api, client, owner, bitcoin):
    client.force_login(owner)

    api = error_fields(post(owner_api, coin="no-such-coin"))["coin"]
    form = client.post(reverse("alerts:create"), {"coin": "no-such-coin"}).content.decode()

    assert api == ["Choose a coin CryptoMonitor tracks."] == [UNKNOWN_COIN_MESSAGE]
    assert UNKNOWN_COIN_MESSAGE in form


def test_re_arming_a_triggered_alert_says_re_armed(client, owner, make_alert):
    alert = make_alert(status="triggered")
    client.force_login(owner)

    page = client.post(reverse("alerts:resume", args=[alert.pk]), follow=True).content.decode()

    assert "Alert re-armed: it fires again when its condition is met." in page


def test_resuming_a_paused_alert_says_resumed(client, owner, make_alert):
    alert = make_alert(status="paused")
    client.force_login(owner)

    page = client.post(reverse("alerts:resume", args=[alert.pk]), follow=True).content.decode()

    assert "Alert resumed: it fires again when its condition is met." in page


def test_the_alert_page_names_each_channel_by_its_label(client, owner, make_alert):
    alert = make_alert(channels=["email", "in_app"])
    client.force_login(owner)

    page = client.get(alert.get_absolute_url()).content.decode()

    assert "via Email, In-app" in page
    assert "in_app" not in page


def test_a_huge_target_gets_one_clear_error(client, owner, bitcoin):
    client.force_login(owner)
    data = {
        "coin": "bitcoin",
        "condition": "above",
        "target": "1e20",
        "frequency": "once",
        "cooldown_seconds": "3600",
        "channels": ["email"],
    }

    form = client.post(reverse("alerts:create"), data).context["form"]

    assert form.errors["target"] == [
        "Ensure that there are no more than 12 digits before the decimal point."
    ]


@pytest.mark.parametrize("target", ["1e30", 1e30])
def test_the_api_refuses_a_huge_target_with_the_forms_one_error(
    owner_api, client, owner, bitcoin, target
):
    client.force_login(owner)
    data = {"coin": "bitcoin", "condition": "above", "frequency": "once", "cooldown_seconds": "60"}
    data["channels"] = ["email"]

    api = post(owner_api, target=target)
    form = client.post(reverse("alerts:create"), {**data, "target": "1e30"}).context["form"]

    assert api.json()["error"]["fields"] == {"target": form.errors["target"]}
    assert form.errors == {"target": ["Ensure that there are no more than 26 digits in total."]}
