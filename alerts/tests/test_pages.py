"""Alert pages for the owner, another user (404, never 403) and anonymous visitors."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from notifications.models import Delivery

pytestmark = pytest.mark.django_db

VALID = {
    "coin": "bitcoin",
    "condition": "above",
    "target": "35000",
    "frequency": "once",
    "cooldown_seconds": "3600",
    "channels": ["email", "in_app"],
}


@pytest.fixture
def alert(make_alert) -> Alert:
    return make_alert(target=Decimal("35000"), note="take profit")


def page_urls(alert: Alert) -> list[str]:
    return [
        reverse("alerts:detail", args=[alert.pk]),
        reverse("alerts:edit", args=[alert.pk]),
        reverse("alerts:delete", args=[alert.pk]),
    ]


def test_anonymous_visitors_are_sent_to_log_in(client, alert):
    for url in [reverse("alerts:list"), reverse("alerts:create"), *page_urls(alert)]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_anonymous_visitors_cannot_pause(client, alert):
    response = client.post(reverse("alerts:pause", args=[alert.pk]))

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "active"


def test_a_stranger_gets_404_for_every_page_of_the_alert(client, stranger, alert):
    client.force_login(stranger)

    for url in page_urls(alert):
        assert client.get(url).status_code == 404
    for action in ("pause", "resume", "delete", "edit"):
        assert client.post(reverse(f"alerts:{action}", args=[alert.pk]), VALID).status_code == 404
    assert Alert.objects.get(pk=alert.pk).status == "active"


def test_a_stranger_does_not_see_the_alert_in_their_list(client, stranger, alert):
    client.force_login(stranger)

    response = client.get(reverse("alerts:list"))

    assert response.status_code == 200
    assert "take profit" not in response.content.decode()


def test_the_owner_lists_alerts_with_condition_in_words(client, owner, alert):
    client.force_login(owner)

    body = client.get(reverse("alerts:list")).content.decode()

    assert "Price is at or above 35000" in body
    assert "never" in body


def test_the_list_filters_by_status(client, owner, alert, make_alert):
    make_alert(target=Decimal("99999"), status="paused", note="the paused one")
    client.force_login(owner)

    body = client.get(reverse("alerts:list"), {"status": "paused"}).content.decode()

    assert "the paused one" in body
    assert "take profit" not in body


def test_the_create_form_preselects_the_coin_and_shows_its_price(client, owner, bitcoin):
    client.force_login(owner)

    body = client.get(reverse("alerts:create"), {"coin": "bitcoin"}).content.decode()

    assert 'value="bitcoin" selected' in body
    assert 'data-coin-price="bitcoin">30000<' in body


def test_the_owner_creates_an_alert(client, owner, bitcoin):
    client.force_login(owner)

    response = client.post(reverse("alerts:create"), VALID)

    alert = Alert.objects.get()
    assert response.status_code == 302
    assert response["Location"] == alert.get_absolute_url()
    assert (alert.user, alert.coin, alert.target) == (owner, bitcoin, Decimal("35000"))
    assert alert.channels == ["email", "in_app"]


def test_the_form_shows_the_models_messages(client, owner, bitcoin):
    client.force_login(owner)

    response = client.post(
        reverse("alerts:create"), {**VALID, "target": "-5", "channels": [], "condition": "pct_up"}
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Choose at least one channel." in body
    assert "Enter a price above zero." in body
    assert not Alert.objects.exists()


def test_the_form_reports_the_cap_of_active_alerts(client, owner, bitcoin, make_alert, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    make_alert()
    client.force_login(owner)

    body = client.post(reverse("alerts:create"), VALID).content.decode()

    assert "You already have 1 active alerts" in body
    assert Alert.objects.count() == 1


def test_the_form_warns_when_a_level_alert_would_fire_at_once(client, owner, bitcoin):
    client.force_login(owner)
    data = {**VALID, "target": "29000"}

    warned = client.post(reverse("alerts:create"), data)

    assert "this alert will fire on the next price update" in warned.content.decode()
    assert not Alert.objects.exists()
    confirmed = client.post(reverse("alerts:create"), {**data, "confirm_immediate": "True"})
    assert confirmed.status_code == 302
    assert Alert.objects.count() == 1


def test_the_form_rejects_an_untracked_coin(client, owner, bitcoin):
    bitcoin.is_tracked = False
    bitcoin.save()
    client.force_login(owner)

    body = client.post(reverse("alerts:create"), VALID).content.decode()

    assert "Choose a coin CryptoMonitor tracks." in body


def test_the_owner_edits_an_alert_and_it_re_arms(client, owner, alert):
    Alert.objects.filter(pk=alert.pk).update(armed=False, cooldown_until=timezone.now())
    client.force_login(owner)

    response = client.post(reverse("alerts:edit", args=[alert.pk]), {**VALID, "target": "36000"})

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.target, alert.armed, alert.cooldown_until) == (Decimal("36000"), True, None)


def test_the_edit_form_shows_the_alerts_values(client, owner, alert):
    client.force_login(owner)

    body = client.get(reverse("alerts:edit", args=[alert.pk])).content.decode()

    assert 'value="bitcoin" selected' in body
    assert "take profit" in body


def test_the_detail_page_shows_events_and_each_channels_delivery(client, owner, alert):
    event = AlertEvent.objects.create(
        alert=alert,
        coin=alert.coin,
        price=Decimal("35100"),
        reason="Price 35100 is at or above 35000.",
        triggered_at=timezone.now(),
    )
    Delivery.objects.create(user=owner, event=event, channel="email", status="sent")
    Delivery.objects.create(
        user=owner, event=event, channel="webhook", status="failed", last_error="HTTP 410"
    )
    client.force_login(owner)

    body = client.get(alert.get_absolute_url()).content.decode()

    assert "Price 35100 is at or above 35000." in body
    assert "Email: sent" in body
    assert "Webhook: failed" in body
    assert "HTTP 410" in body


def test_the_owner_pauses_and_resumes(client, owner, alert):
    client.force_login(owner)

    client.post(reverse("alerts:pause", args=[alert.pk]))
    alert.refresh_from_db()
    assert alert.status == "paused"

    client.post(reverse("alerts:resume", args=[alert.pk]))
    alert.refresh_from_db()
    assert alert.status == "active"


def test_resume_at_the_cap_says_why(client, owner, alert, make_alert, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    paused = make_alert(status="paused")
    client.force_login(owner)

    response = client.post(reverse("alerts:resume", args=[paused.pk]), follow=True)

    assert "You already have 1 active alerts" in response.content.decode()
    paused.refresh_from_db()
    assert paused.status == "paused"


def test_pause_rejects_get(client, owner, alert):
    client.force_login(owner)

    assert client.get(reverse("alerts:pause", args=[alert.pk])).status_code == 405


def test_delete_asks_for_confirmation_then_deletes(client, owner, alert):
    client.force_login(owner)

    confirm = client.get(reverse("alerts:delete", args=[alert.pk]))
    assert "Delete this alert?" in confirm.content.decode()
    assert Alert.objects.filter(pk=alert.pk).exists()

    response = client.post(reverse("alerts:delete", args=[alert.pk]))
    assert response["Location"] == reverse("alerts:list")
    assert not Alert.objects.filter(pk=alert.pk).exists()
