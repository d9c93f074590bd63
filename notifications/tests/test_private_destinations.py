"""Private addresses: refused for Apprise as for webhooks, at saving and at sending."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from notifications.delivery import deliver
from notifications.models import DeliveryStatus, NotificationSettings
from notifications.transports.base import pinned_request

pytestmark = pytest.mark.django_db

TELEGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/42"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("json://127.0.0.1:8000/hook", "127.0.0.1 is a private network address"),
        ("json://[::1]/hook", "::1 is a private network address"),
        ("ntfy://10.0.0.1/alerts", "10.0.0.1 is a private network address"),
        ("gotify://localhost/token", "localhost is a private network address"),
        ("mailto://user:pass@169.254.169.254", "169.254.169.254 is a private network address"),
    ],
)
def test_the_page_refuses_an_apprise_url_on_a_private_address(client, owner, url, message):
    client.force_login(owner)

    response = client.post("/notifications/settings/", {"apprise_urls": url, "webhook_url": ""})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert NotificationSettings.for_user(owner).apprise_urls == ""


def test_the_model_refuses_it_too_so_the_api_does(owner):
    config = NotificationSettings.for_user(owner)
    config.apprise_urls = "json://127.0.0.1:8000/hook"

    with pytest.raises(ValidationError) as error:
        config.full_clean()

    assert "127.0.0.1 is a private network address" in str(error.value.message_dict)


def test_urls_whose_host_part_is_a_token_are_accepted(owner):
    # tgram:// holds a bot token where a host would be; ntfy://topic is ntfy.sh.
    config = NotificationSettings.for_user(owner)
    config.apprise_urls = f"{TELEGRAM}\nntfy://localhost"

    config.full_clean()


def test_the_setting_allows_private_addresses_for_local_use(client, owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_IPS = True
    client.force_login(owner)

    response = client.post(
        "/notifications/settings/", {"apprise_urls": "json://127.0.0.1:8000/hook"}
    )

    assert response.status_code == 302
    assert NotificationSettings.for_user(owner).apprise_urls == "json://127.0.0.1:8000/hook"


def test_a_send_to_a_private_apprise_server_fails_without_posting(receiver, owner, fire):
    # Saved while it was allowed (or while the name resolved elsewhere).
    NotificationSettings.objects.update_or_create(
        user=owner, defaults={"apprise_urls": receiver.url.replace("http://", "json://")}
    )
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert "127.0.0.1 is a private network address" in delivery.last_error
    assert receiver.requests == []


@pytest.fixture
def rebinding_dns(monkeypatch):
    """rebind.test: public on the first lookup, loopback afterwards (DNS rebinding)."""
    real = socket.getaddrinfo
    answers = ["93.184.215.14", "127.0.0.1"]

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_webhook_send_connects_to_the_address_it_checked(rebinding_dns):
    url, headers, extensions = pinned_request("https://rebind.test:8443/hook?x=1", {"A": "b"})

    assert url == "https://93.184.215.14:8443/hook?x=1"
    assert headers == {"A": "b", "Host": "rebind.test:8443"}
    assert extensions == {"sni_hostname": "rebind.test"}


def test_a_webhook_keeps_the_host_header_of_its_url(receiver, owner, fire, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_IPS = True
    url = receiver.url.replace("127.0.0.1", "localhost")
    NotificationSettings.objects.update_or_create(user=owner, defaults={"webhook_url": url})
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [request] = receiver.requests
    assert request["headers"]["Host"] == url.split("/")[2]
