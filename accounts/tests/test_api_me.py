"""/api/v1/me/: the caller's profile and notification settings."""

import pytest
from django.core import mail

from accounts.models import Profile
from notifications.models import NotificationSettings

pytestmark = pytest.mark.django_db


def test_the_owner_reads_their_profile(owner_api):
    body = owner_api.get("/api/v1/me/").json()
    assert (body["username"], body["email"], body["time_zone"]) == (
        "alice",
        "alice@example.com",
        "UTC",
    )
    assert len(body["webhook_secret"]) == 64


# A well-formed Telegram URL: Apprise refuses malformed ones (NotificationSettings.clean).
TELEGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/42"


def test_the_owner_changes_their_settings(owner_api, owner):
    changes = {
        "time_zone": "Europe/Paris",
        "notification_email": "alerts@example.com",
        "webhook_url": "https://example.com/hook",
        "apprise_urls": ["ntfy://ntfy.sh/topic", TELEGRAM],
    }
    response = owner_api.patch("/api/v1/me/", changes, format="json")
    assert response.status_code == 200
    assert response.json()["apprise_urls"] == changes["apprise_urls"]
    profile = Profile.objects.get(user=owner)
    assert (profile.time_zone, profile.notification_email) == ("Europe/Paris", "alerts@example.com")
    assert NotificationSettings.objects.get(user=owner).apprise_urls == (
        "ntfy://ntfy.sh/topic\n" + TELEGRAM
    )


def test_it_rejects_an_unknown_time_zone_and_a_bad_email(owner_api, owner):
    response = owner_api.patch(
        "/api/v1/me/", {"time_zone": "Mars/Olympus", "notification_email": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"time_zone", "notification_email"}
    assert Profile.for_user(owner).time_zone == "UTC"


def test_it_rejects_a_webhook_url_that_is_not_a_url(owner_api):
    response = owner_api.patch("/api/v1/me/", {"webhook_url": "not a url"}, format="json")
    assert list(response.json()["error"]["fields"]) == ["webhook_url"]


def test_username_and_email_are_read_only(owner_api, owner):
    owner_api.patch("/api/v1/me/", {"username": "root", "email": "x@example.com"}, format="json")
    owner.refresh_from_db()
    assert (owner.username, owner.email) == ("alice", "alice@example.com")


def test_a_stranger_sees_only_themselves(stranger_api, owner):
    assert stranger_api.get("/api/v1/me/").json()["username"] == "mallory"


def test_anonymous_callers_get_a_401(api_client):
    assert api_client.get("/api/v1/me/").status_code == 401
    assert api_client.patch("/api/v1/me/", {"time_zone": "UTC"}).status_code == 401


@pytest.mark.usefixtures("private_cache")
def test_a_new_notification_email_gets_a_link_before_any_alert(owner_api):
    owner_api.patch("/api/v1/me/", {"notification_email": "alerts@example.com"}, format="json")

    body = owner_api.get("/api/v1/me/").json()
    assert (
        body["notification_email"],
        body["notification_email_confirmed"],
        body["alert_email"],
    ) == ("alerts@example.com", False, "alice@example.com")
    [confirmation] = mail.outbox
    assert confirmation.to == ["alerts@example.com"]
    assert "/account/notification-email/confirm/" in confirmation.body
