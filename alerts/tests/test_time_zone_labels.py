"""Pages name the account's time zone beside the times they show, and read typed times in it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import ApiToken, Profile
from alerts.models import Alert, AlertEvent
from notifications.models import Delivery, InAppNotification

pytestmark = pytest.mark.django_db

FIRED_AT = datetime(2030, 1, 15, 11, 0, tzinfo=UTC)  # 12:00 in Berlin (CET)


@pytest.fixture
def berliner(client, owner):
    Profile.objects.create(user=owner, time_zone="Europe/Berlin")
    client.force_login(owner)
    return owner


def test_the_alert_form_reads_the_expiry_in_the_accounts_zone(client, berliner, bitcoin):
    form = client.get(reverse("alerts:create")).content.decode()
    assert "Expires at (Europe/Berlin)" in form
    assert "(UTC)" not in form

    client.post(
        reverse("alerts:create"),
        {
            "coin": "bitcoin",
            "condition": "above",
            "target": "35000",
            "frequency": "once",
            "cooldown_seconds": "3600",
            "channels": ["email"],
            "expires_at": "2030-01-15T12:00",
        },
    )

    assert Alert.objects.get().expires_at == FIRED_AT


def test_the_alert_forms_update_time_names_the_accounts_zone(client, berliner, bitcoin):
    body = client.get(reverse("alerts:create"), {"coin": "bitcoin"}).content.decode()

    assert "</time> Europe/Berlin)" in body
    assert "UTC" not in body


def test_the_alert_page_shows_expiry_and_history_in_the_accounts_zone(client, berliner, make_alert):
    alert = make_alert(target=Decimal("35000"), expires_at=datetime(2031, 1, 1, tzinfo=UTC))
    AlertEvent.objects.create(
        alert=alert, coin=alert.coin, price=Decimal("35100"), reason="r", triggered_at=FIRED_AT
    )

    body = client.get(alert.get_absolute_url()).content.decode()

    assert "2031-01-01 01:00</time> Europe/Berlin" in body
    assert "When (Europe/Berlin)" in body
    assert "2030-01-15 12:00:00</time>" in body
    assert "UTC" not in body


def test_the_alert_list_names_the_accounts_zone(client, berliner, make_alert):
    make_alert(last_triggered_at=FIRED_AT)

    body = client.get(reverse("alerts:list")).content.decode()

    assert "Last triggered (Europe/Berlin)" in body
    assert "2030-01-15 12:00</time>" in body


def test_the_inbox_names_the_accounts_zone(client, berliner, make_alert):
    entry = InAppNotification.objects.create(user=berliner, title="Bitcoin", url="/alerts/1/")
    InAppNotification.objects.filter(pk=entry.pk).update(created_at=FIRED_AT)
    event = AlertEvent.objects.create(
        alert=make_alert(),
        coin_id=entry.user.alerts.get().coin_id,
        price=1,
        reason="r",
        triggered_at=FIRED_AT,
    )
    Delivery.objects.create(user=berliner, event=event, channel="webhook", status="failed")

    body = client.get(reverse("notifications:inbox")).content.decode()

    assert "2030-01-15 12:00:00</time> Europe/Berlin" in body
    assert "When (Europe/Berlin)" in body


def test_the_settings_and_token_pages_name_the_accounts_zone(client, berliner):
    Delivery.objects.create(user=berliner, channel="email", status="sent")
    ApiToken.issue(berliner, "laptop")

    settings_page = client.get(reverse("notifications:settings")).content.decode()
    tokens_page = client.get(reverse("accounts:tokens")).content.decode()

    assert "Queued (Europe/Berlin)" in settings_page
    assert "Times in Europe/Berlin" in tokens_page
