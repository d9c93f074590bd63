"""Editing an expired alert: a new future expiry revives it, re-armed, as it expired.

An alert that expired active comes back active; one that expired paused comes
back paused (Alert.expired_from, recorded by the expiry task).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Status
from alerts.tasks import expire_alerts

pytestmark = pytest.mark.django_db


@pytest.fixture
def expired(make_alert) -> Alert:
    return make_alert(
        target=Decimal("35000"),
        status=Status.EXPIRED,
        armed=False,
        cooldown_until=timezone.now() + timedelta(hours=1),
        expires_at=timezone.now() - timedelta(days=1),
    )


@pytest.fixture
def expired_paused(make_alert) -> Alert:
    """An alert paused, then expired by the periodic task."""
    alert = make_alert(
        target=Decimal("35000"),
        status=Status.PAUSED,
        armed=False,
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    assert expire_alerts() == 1
    alert.refresh_from_db()
    return alert


def edit(client, alert: Alert, expires_at: str) -> object:
    data = {
        "coin": "bitcoin",
        "condition": "above",
        "target": "35000",
        "frequency": "once",
        "cooldown_seconds": "3600",
        "channels": ["in_app"],
        "expires_at": expires_at,
        "note": "again",
    }
    return client.post(reverse("alerts:edit", args=[alert.pk]), data, follow=True)


def test_a_new_future_expiry_makes_it_active_and_armed(client, owner, expired):
    client.force_login(owner)
    future = (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")

    response = edit(client, expired, future)

    expired.refresh_from_db()
    assert (expired.status, expired.armed, expired.cooldown_until) == (Status.ACTIVE, True, None)
    assert expired.note == "again"
    assert "active again" in response.content.decode()


def test_clearing_the_expiry_makes_it_active_too(client, owner, expired):
    client.force_login(owner)

    edit(client, expired, "")

    expired.refresh_from_db()
    assert (expired.status, expired.expires_at) == (Status.ACTIVE, None)


def test_an_expiry_still_past_keeps_it_expired_and_says_so(client, owner, expired):
    client.force_login(owner)
    past = (timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")

    response = edit(client, expired, past)

    expired.refresh_from_db()
    assert expired.status == Status.EXPIRED
    assert expired.note == "again"
    assert "still expired: set an expiry in the future" in response.content.decode()


def test_reviving_respects_the_cap_of_active_alerts(client, owner, expired, make_alert, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    make_alert(target=Decimal("40000"))
    client.force_login(owner)
    future = (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")

    response = edit(client, expired, future)

    assert "You already have 1 active alerts" in response.content.decode()
    expired.refresh_from_db()
    assert expired.status == Status.EXPIRED


def test_the_detail_page_says_how_to_use_an_expired_alert_again(client, owner, expired):
    client.force_login(owner)

    page = client.get(reverse("alerts:detail", args=[expired.pk])).content.decode()

    assert "set an expiry in the future (or none): it becomes active again" in page
    assert reverse("alerts:edit", args=[expired.pk]) in page


def test_the_edit_page_says_a_revived_alert_is_active(client, owner, expired):
    client.force_login(owner)

    page = client.get(reverse("alerts:edit", args=[expired.pk])).content.decode()

    assert "or none, makes it active again." in page


def test_an_alert_that_expired_paused_comes_back_paused(client, owner, expired_paused):
    client.force_login(owner)
    future = (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")

    response = edit(client, expired_paused, future)

    expired_paused.refresh_from_db()
    assert (expired_paused.status, expired_paused.armed) == (Status.PAUSED, True)
    assert expired_paused.expired_from == ""  # no longer expired
    assert "saved and paused again" in response.content.decode()


def test_an_expiry_still_past_says_an_alert_that_expired_paused_would_come_back_paused(
    client, owner, expired_paused
):
    client.force_login(owner)
    past = (timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")

    page = edit(client, expired_paused, past).content.decode()

    assert "set an expiry in the future to make it paused again." in page
    assert "active again" not in page


def test_reviving_an_alert_that_expired_paused_is_not_held_by_the_cap(
    client, owner, expired_paused, make_alert, settings
):
    # It comes back paused, so it does not count among the active alerts.
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    make_alert(target=Decimal("40000"))
    client.force_login(owner)

    edit(client, expired_paused, "")

    expired_paused.refresh_from_db()
    assert expired_paused.status == Status.PAUSED


def test_the_pages_say_an_alert_that_expired_paused_comes_back_paused(
    client, owner, expired_paused
):
    client.force_login(owner)

    form = client.get(reverse("alerts:edit", args=[expired_paused.pk])).content.decode()
    detail = client.get(reverse("alerts:detail", args=[expired_paused.pk])).content.decode()

    assert "or none, makes it paused again: resume it to have it evaluated." in form
    assert "it becomes paused again, as it was when it expired." in detail


def in_a_week() -> str:
    return (timezone.now() + timedelta(days=7)).isoformat()


def test_the_api_revives_it_like_the_form(owner_api, expired):
    response = owner_api.patch(
        f"/api/v1/alerts/{expired.pk}/", {"expires_at": in_a_week()}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == Status.ACTIVE
    expired.refresh_from_db()
    assert (expired.status, expired.armed, expired.cooldown_until) == (Status.ACTIVE, True, None)


def test_the_api_keeps_it_expired_when_the_expiry_is_still_past(owner_api, expired):
    response = owner_api.patch(f"/api/v1/alerts/{expired.pk}/", {"note": "x"}, format="json")

    assert response.status_code == 200, response.json()
    expired.refresh_from_db()
    assert (expired.status, expired.note) == (Status.EXPIRED, "x")


def test_the_api_revives_within_the_cap_of_active_alerts(owner_api, expired, make_alert, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    make_alert(target=Decimal("40000"))

    response = owner_api.patch(
        f"/api/v1/alerts/{expired.pk}/", {"expires_at": in_a_week()}, format="json"
    )

    assert response.status_code == 400
    assert "You already have 1 active alerts" in str(response.json())
    expired.refresh_from_db()
    assert expired.status == Status.EXPIRED


def test_the_api_revives_an_alert_that_expired_paused_paused(owner_api, expired_paused):
    assert owner_api.get(f"/api/v1/alerts/{expired_paused.pk}/").json()["expired_from"] == "paused"

    response = owner_api.patch(
        f"/api/v1/alerts/{expired_paused.pk}/", {"expires_at": in_a_week()}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["expired_from"]) == ("paused", "")
    expired_paused.refresh_from_db()
    assert (expired_paused.status, expired_paused.armed) == (Status.PAUSED, True)


# The expiry task running between the edit loading the alert and saving it:
# save_edit decides the revival from the row as it is when saved.
def load_then_expire(alert: Alert, **edits) -> Alert:
    loaded = Alert.objects.get(pk=alert.pk)  # the edit's load: not expired yet
    for name, value in edits.items():
        setattr(loaded, name, value)
    loaded.full_clean()
    assert expire_alerts() == 1  # beat runs meanwhile
    return loaded


def test_an_alert_expiring_while_its_edit_is_saved_still_revives_as_it_expired(make_alert):
    alert = make_alert(status=Status.PAUSED, expires_at=timezone.now() - timedelta(seconds=1))
    loaded = load_then_expire(alert, expires_at=timezone.now() + timedelta(days=7))

    assert loaded.save_edit() is True

    alert.refresh_from_db()
    assert (alert.status, alert.expired_from) == (Status.PAUSED, "")
    assert loaded.status == Status.PAUSED  # the view's message reads it


def test_an_alert_expiring_while_its_edit_is_saved_is_not_revived_past_the_cap(
    make_alert, settings
):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    alert = make_alert(expires_at=timezone.now() - timedelta(seconds=1))
    loaded = load_then_expire(alert, note="new", expires_at=timezone.now() + timedelta(days=7))
    make_alert(target=Decimal("40000"))  # its owner's one active alert, meanwhile

    with pytest.raises(ValidationError, match="You already have 1 active alerts"):
        loaded.save_edit()

    alert.refresh_from_db()
    assert (alert.status, alert.note) == (Status.EXPIRED, "")  # nothing saved


def test_the_edit_page_shows_the_cap_when_a_revival_passes_it_as_it_is_saved(
    client, owner, make_alert, settings, monkeypatch
):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    alert = make_alert(target=Decimal("35000"), expires_at=timezone.now() - timedelta(seconds=1))
    clean = Alert.clean

    def clean_then_expire_and_fill_the_cap(self: Alert) -> None:
        clean(self)  # the form validated it as active, within the cap
        monkeypatch.setattr(Alert, "clean", clean)
        expire_alerts()
        make_alert(target=Decimal("40000"))

    monkeypatch.setattr(Alert, "clean", clean_then_expire_and_fill_the_cap)
    client.force_login(owner)

    response = edit(client, alert, (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"))

    assert response.status_code == 200
    assert "You already have 1 active alerts" in response.content.decode()
    alert.refresh_from_db()
    assert (alert.status, alert.note) == (Status.EXPIRED, "")
