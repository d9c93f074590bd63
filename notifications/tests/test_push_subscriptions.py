"""Saving, listing and removing a browser's push subscription; the worker and manifest."""

from __future__ import annotations

import json

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from notifications import push
from notifications.models import PushSubscription
from notifications.tests.push_service import Browser

pytestmark = pytest.mark.django_db

URL = "/notifications/settings/push/"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


def a_browser(endpoint: str = "https://push.example.net/wpush/v2/abc") -> dict:
    return Browser(endpoint=endpoint).subscription()


def post(client: Client, body: object, agent: str = FIREFOX):
    return client.post(
        URL, json.dumps(body), content_type="application/json", HTTP_USER_AGENT=agent
    )


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def test_it_saves_this_browsers_subscription_named_by_its_user_agent(logged_in, owner):
    body = a_browser()

    response = post(logged_in, body)

    assert response.status_code == 201
    saved = PushSubscription.objects.get()
    assert (saved.user, saved.endpoint, saved.browser) == (
        owner,
        body["endpoint"],
        "Firefox on Linux",
    )
    assert (saved.p256dh, saved.auth) == (body["keys"]["p256dh"], body["keys"]["auth"])
    assert response.json() == {"id": saved.pk, "browser": "Firefox on Linux"}


def test_a_user_may_enable_push_on_several_browsers(logged_in):
    post(logged_in, a_browser("https://push.example.net/1"))
    post(logged_in, a_browser("https://fcm.googleapis.com/fcm/send/2"), agent=CHROME_ANDROID)

    assert sorted(PushSubscription.objects.values_list("browser", flat=True)) == [
        "Chrome on Android",
        "Firefox on Linux",
    ]


def test_subscribing_the_same_browser_again_replaces_its_keys(logged_in):
    post(logged_in, a_browser())
    again = a_browser()

    post(logged_in, again)

    assert PushSubscription.objects.get().p256dh == again["keys"]["p256dh"]


def test_it_needs_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    assert post(client, a_browser()).status_code == 403
    assert not PushSubscription.objects.exists()


def test_anonymous_visitors_cannot_subscribe(client):
    assert post(client, a_browser()).status_code == 302
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"endpoint": "http://push.example.net/1"}, "must be an https:// URL"),
        ({"endpoint": "https://127.0.0.1/push"}, "127.0.0.1 is a loopback address"),
        ({"endpoint": "https://10.0.0.5/push"}, "a private network address"),
        ({"endpoint": "https://push.example.net/" + "a" * 1000}, "at most 1000 characters"),
        ({"keys": {"p256dh": "BAAA", "auth": "x" * 22}}, "keys.p256dh must be"),
        ({"keys": {"p256dh": Browser("").p256dh, "auth": "c2hvcnQ"}}, "keys.auth must be 16"),
        ({"keys": None}, "Send the browser's PushSubscription as JSON"),
        ({"endpoint": 7}, "must be strings"),
    ],
)
def test_it_refuses_a_subscription_we_could_not_push_to(logged_in, change, error):
    response = post(logged_in, {**a_browser(), **change})

    assert response.status_code == 400
    assert error in " ".join(response.json()["errors"])
    assert not PushSubscription.objects.exists()


def test_a_local_push_service_is_accepted_with_the_opt_in(logged_in, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True

    assert post(logged_in, a_browser("http://127.0.0.1:8123/push/1")).status_code == 201


def test_a_user_may_have_at_most_twenty_browsers(logged_in, owner):
    for number in range(push.MAX_SUBSCRIPTIONS_PER_USER):
        assert post(logged_in, a_browser(f"https://push.example.net/{number}")).status_code == 201

    response = post(logged_in, a_browser("https://push.example.net/one-more"))

    assert response.status_code == 400
    assert "At most 20 browsers" in response.json()["errors"][0]
    # One already listed may still renew its keys.
    assert post(logged_in, a_browser("https://push.example.net/3")).status_code == 201


def test_the_settings_page_lists_the_owners_browsers_only(logged_in, owner, stranger):
    PushSubscription.objects.create(
        user=owner,
        endpoint="https://push.example.net/mine",
        p256dh="B",
        auth="a",
        browser="Firefox on Linux",
    )
    PushSubscription.objects.create(
        user=stranger,
        endpoint="https://push.example.net/theirs",
        p256dh="B",
        auth="a",
        browser="Safari on macOS",
    )

    page = logged_in.get("/notifications/settings/").content.decode()

    assert "Firefox on Linux" in page
    assert "Safari on macOS" not in page
    assert "Enable push on this browser" in page
    assert f'data-vapid-key="{push.public_key()}"' in page
    assert "js/push.js" in page


def test_the_owner_removes_one_browser(logged_in, owner):
    mine = PushSubscription.objects.create(
        user=owner, endpoint="https://push.example.net/mine", p256dh="B", auth="a"
    )

    response = logged_in.post(f"{URL}{mine.pk}/remove/")

    assert response.status_code == 302
    assert not PushSubscription.objects.exists()


def test_nobody_removes_another_users_browser(logged_in, stranger, client):
    theirs = PushSubscription.objects.create(
        user=stranger, endpoint="https://push.example.net/theirs", p256dh="B", auth="a"
    )

    assert logged_in.post(f"{URL}{theirs.pk}/remove/").status_code == 404
    assert PushSubscription.objects.exists()


def test_the_service_worker_is_served_from_the_root_uncached(client):
    response = client.get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    body = b"".join(response.streaming_content).decode()
    assert 'addEventListener("push"' in body
    assert 'addEventListener("notificationclick"' in body


def test_the_manifest_makes_the_site_an_installable_app(client):
    response = client.get("/manifest.webmanifest")

    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert (manifest["start_url"], manifest["display"]) == ("/", "standalone")
    assert [icon["sizes"] for icon in manifest["icons"]] == ["192x192", "512x512"]
    for icon in manifest["icons"]:
        assert finders.find(icon["src"].removeprefix("/static/")), icon


def test_every_page_links_the_manifest(client):
    page = client.get("/").content.decode()

    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
