"""Headless Chromium runs our service worker: a push shows the alert, a click opens it.

Chromium registers /sw.js; the DevTools protocol delivers a push message to
it as a push service would (ServiceWorker.deliverPushMessage, the payload
already decrypted), and the page reads the notification the worker showed.
"""

from __future__ import annotations

import json

import pytest

from notifications import push
from notifications.models import PushSubscription
from notifications.tests.push_service import Browser
from notifications.tests.test_end_to_end import session_cookie
from prices.tests.test_browser import WAIT_MS, beside_the_browser, chromium  # noqa: F401
from tests_support.live_server import current_database_url, running_daphne

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MESSAGE = {
    "title": "BTC price is at or above 70000 (now 70250.5 USD)",
    "body": "Bitcoin: BTC is at 70250.5, at or above 70000",
    "url": "/alerts/42/",
    "tag": "cryptomonitor-delivery-7",
    "icon": "/static/img/icon-192.png",
}
REGISTER = """async () => {
  await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  const ready = await navigator.serviceWorker.ready;
  return ready.scope;
}"""
SHOWN = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
}"""
# In the worker: the click handler's target, caught where it would open a window.
CLICK = """async () => {
  const [notification] = await self.registration.getNotifications();
  const opened = new Promise((resolve) => {
    self.clients.openWindow = (url) => { resolve(url); return Promise.resolve(null); };
  });
  try {
    self.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
  } catch (error) {}
  return await opened;
}"""


# Page script: PushManager.subscribe as a browser with a reachable push
# service answers, remembering the server key it was given (base64url)
# across the page's reload.
FAKE_SUBSCRIBE = """
PushManager.prototype.getSubscription = async function () {
  const json = sessionStorage.subscribed && JSON.parse(sessionStorage.subscribed);
  return json ? { endpoint: json.endpoint, options: {}, toJSON: () => json } : null;
};
PushManager.prototype.subscribe = async function (options) {
  const key = String.fromCharCode(...new Uint8Array(options.applicationServerKey));
  sessionStorage.subscribedWith = btoa(key)
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const json = %s;
  sessionStorage.subscribed = JSON.stringify(json);
  return { options, toJSON: () => json, unsubscribe: async () => true };
};
"""


@pytest.fixture
def server():
    with running_daphne({"TEST_DATABASE_URL": current_database_url()}) as live:
        yield live


def registration_ids(cdp) -> list[str]:
    """The service worker registration's id, from the DevTools protocol's events."""
    found: list[str] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: found.extend(r["registrationId"] for r in event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    return found


def deliver_to_the_service_worker(page, context, origin: str, message: dict) -> None:
    """Hand a decrypted push to the page's service worker, as a push service would."""
    assert page.evaluate(REGISTER) == f"{origin}/"
    cdp = context.new_cdp_session(page)
    registrations = registration_ids(cdp)
    for _ in range(50):  # the events arrive as Playwright's loop turns
        if registrations:
            break
        page.wait_for_timeout(100)
    assert registrations, "no service worker registration reported"
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": origin, "registrationId": registrations[-1], "data": json.dumps(message)},
    )


def test_the_worker_shows_a_pushed_alert_and_a_click_opens_its_page(
    server,
    owner,
    chromium,  # noqa: F811
):
    context = chromium.new_context(base_url=server.http_url)
    context.set_default_timeout(WAIT_MS)
    context.grant_permissions(["notifications"], origin=server.http_url)
    context.add_cookies([beside_the_browser(session_cookie, owner, server)])
    page = context.new_page()
    page.goto("/notifications/settings/")
    assert page.get_attribute("link[rel=manifest]", "href") == "/manifest.webmanifest"

    deliver_to_the_service_worker(page, context, server.http_url, MESSAGE)

    page.wait_for_function(f"({SHOWN})().then((shown) => shown.length > 0)")
    [shown] = page.evaluate(SHOWN)
    assert (shown["title"], shown["body"]) == (MESSAGE["title"], MESSAGE["body"])
    assert shown["tag"] == MESSAGE["tag"]
    assert shown["data"]["url"] == f"{server.http_url}/alerts/42/"

    [worker] = context.service_workers
    assert worker.evaluate(CLICK) == f"{server.http_url}/alerts/42/"
    context.close()


def test_the_enable_button_subscribes_with_our_key_and_saves_this_browser(
    server,
    owner,
    chromium,  # noqa: F811
):
    # Chromium's push service (Google's) is out of reach of a test, and a
    # Playwright context is incognito, where Chromium refuses push: the page's
    # PushManager.subscribe answers with a browser of the local push service.
    subscription = Browser(endpoint="https://push.example.net/wpush/v2/chromium").subscription()
    context = chromium.new_context(base_url=server.http_url)
    context.set_default_timeout(WAIT_MS)
    context.grant_permissions(["notifications"], origin=server.http_url)
    context.add_cookies([beside_the_browser(session_cookie, owner, server)])
    context.add_init_script(FAKE_SUBSCRIBE % json.dumps(subscription))
    page = context.new_page()
    page.goto("/notifications/settings/")

    page.get_by_role("button", name="Enable push on this browser").click()

    page.locator("#push-subscriptions").wait_for()
    page.locator("#push-subscriptions .this-browser").wait_for()
    assert "Chromium (headless) on Linux (this browser)" in page.inner_text("#push-subscriptions")
    assert page.inner_text("#push-status") == "Push is on for this browser."
    assert page.evaluate("sessionStorage.subscribedWith") == beside_the_browser(push.public_key)
    assert page.evaluate(REGISTER) == f"{server.http_url}/"
    page.set_viewport_size({"width": 390, "height": 844})  # the list fits a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    saved = beside_the_browser(lambda: PushSubscription.objects.get())
    assert (saved.user_id, saved.endpoint) == (owner.pk, subscription["endpoint"])
    assert saved.p256dh == subscription["keys"]["p256dh"]
    context.close()
