"""The notification settings page: email, webhook, Apprise URLs, send test."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Profile
from notifications.models import Delivery, NotificationSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def test_it_shows_the_owners_settings_and_secret(logged_in, owner):
    config = NotificationSettings.for_user(owner)

    page = logged_in.get("/notifications/settings/").content.decode()

    assert config.webhook_secret in page
    assert "alice@example.com" in page


def test_it_never_shows_another_users_secret(client, owner, stranger):
    theirs = NotificationSettings.for_user(stranger)
    client.force_login(owner)

    assert theirs.webhook_secret not in client.get("/notifications/settings/").content.decode()


def test_it_sends_anonymous_visitors_to_log_in(client):
    assert client.get("/notifications/settings/").status_code == 302
    assert client.post("/notifications/settings/test/email/").status_code == 302
    assert client.post("/notifications/settings/webhook-secret/").status_code == 302
    assert not Delivery.objects.exists()


def test_it_saves_email_webhook_and_apprise_urls(logged_in, owner):
    response = logged_in.post(
        "/notifications/settings/",
        {
            "notification_email": "alerts@alice.example",
            "webhook_url": "https://hooks.alice.example/cm",
            "apprise_urls": "ntfy://alice-alerts\n\n  json://hooks.alice.example/x  \n",
        },
    )

    assert response.status_code == 302
    # Saved; alert mail goes there once confirmed (test_email_confirmation.py).
    assert Profile.for_user(owner).notification_email == "alerts@alice.example"
    config = NotificationSettings.for_user(owner)
    assert config.webhook_url == "https://hooks.alice.example/cm"
    assert config.apprise_url_list() == ["ntfy://alice-alerts", "json://hooks.alice.example/x"]


def test_it_rejects_an_apprise_url_it_does_not_understand(logged_in, owner):
    response = logged_in.post(
        "/notifications/settings/",
        {"apprise_urls": "ntfy://fine\nnosuchservice://token", "webhook_url": ""},
    )

    assert response.status_code == 200
    assert "Apprise does not understand: nosuchservice://token" in response.content.decode()
    assert NotificationSettings.for_user(owner).apprise_urls == ""


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("webhook_url", "ftp://files.example/x", "Use an http:// or https:// URL."),
        ("webhook_url", "not a url", "Enter a valid URL."),
        ("notification_email", "nope", "Enter a valid email address."),
        ("webhook_url", "http://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
        ("webhook_url", "http://[::1]/hook", "::1 is a loopback address"),
        ("webhook_url", "http://[::ffff:10.0.0.1]/", "10.0.0.1, a private network address"),
    ],
)
def test_it_rejects_bad_input_with_a_clear_message(logged_in, owner, field, value, message):
    response = logged_in.post("/notifications/settings/", {field: value})

    assert message in response.content.decode()
    assert Profile.for_user(owner).notification_email == ""


def test_regenerating_the_secret_changes_it(logged_in, owner):
    old = NotificationSettings.for_user(owner).webhook_secret

    logged_in.post("/notifications/settings/webhook-secret/")

    assert NotificationSettings.for_user(owner).webhook_secret != old


def test_send_test_queues_a_test_delivery_for_the_user(logged_in, owner, stranger):
    response = logged_in.post("/notifications/settings/test/webhook/")

    assert response.status_code == 302
    [delivery] = Delivery.objects.all()
    assert (delivery.user, delivery.channel, delivery.event) == (owner, "webhook", None)


def test_send_test_rejects_an_unknown_channel(logged_in):
    assert logged_in.post("/notifications/settings/test/carrier-pigeon/").status_code == 404
    assert not Delivery.objects.exists()


def test_the_model_refuses_what_the_page_refuses(owner):
    config = NotificationSettings.for_user(owner)
    config.webhook_url = "http://127.0.0.1/hook"
    config.apprise_urls = "nosuchservice://x"

    with pytest.raises(ValidationError) as error:
        config.full_clean()

    assert set(error.value.message_dict) == {"webhook_url", "apprise_urls"}
