"""A person's whole way, in Chromium against the real servers: from the chart to a push.

Sign up, enable push on the settings page, set an alert by clicking the coin
page's chart, and let the price cross it: the fake CoinGecko server,
poll_once() in this process, a real Celery worker that evaluates the batch and
sends the deliveries, the local push service that checks VAPID and decrypts
the push, and daphne serving the pages and the live socket. The decrypted
push is handed to the page's service worker as a push service would
(ServiceWorker.deliverPushMessage). Screenshots of the coin page with its
alert lines and of the prefilled form, at 1280 and 390 px, land in
test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alerts.models import Alert
from notifications import push
from notifications.tests.test_web_push_browser import (
    FAKE_SUBSCRIBE,
    SHOWN,
    deliver_to_the_service_worker,
)
from prices.polling import poll_once
from prices.tests.test_browser import (  # noqa: F401 (fixture)
    WAIT_MS,
    beside_the_browser,
    chromium,
    screenshot,
    sign_up,
)
from tests_support.live_server import current_database_url, running_daphne

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def both_sizes(page, name: str) -> None:
    """Screenshots at desktop and phone width; the page stays at desktop width."""
    screenshot(page, f"{name}-desktop")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # the chart resizes on the next frame
    screenshot(page, f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def click_the_chart_near_its_top(page) -> None:
    chart = page.locator("#price-chart")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    x, y = box["x"] + box["width"] / 3, box["y"] + box["height"] * 0.1
    page.mouse.move(x, y)
    page.locator(".chart-alert-tag").wait_for()
    page.mouse.click(x, y)


def poll_hours_of_prices(fake) -> None:
    """Polls of the last six hours, then one now: the chart has a line to click on."""
    now = datetime.now(UTC)
    times = iter([now - timedelta(minutes=30 * back) for back in range(12, 0, -1)])
    fake.coins["bitcoin"].last_updated = now - timedelta(hours=7)
    fake.clock = lambda: next(times, None) or datetime.now(UTC)
    moves = ("0", "0.8", "-0.5", "1.1", "0.4", "-1.2", "-0.6", "0.9", "0.3", "-0.4", "0.7", "0.2")
    for pct in moves:
        fake.move("bitcoin", pct)
        assert poll_once(force=True).ok
    fake.clock = lambda: datetime.now(UTC)
    fake.move("bitcoin", "0.1")
    assert poll_once(force=True).ok


def notifications_shown(page) -> list[dict]:
    """The service worker's notifications, once it has shown any."""
    for _ in range(100):
        shown = page.evaluate(SHOWN)
        if shown:
            return shown
        page.wait_for_timeout(100)
    raise AssertionError("the service worker showed no notification")


def test_an_alert_set_from_the_chart_reaches_the_browser_as_a_push_and_a_popup(
    coingecko,  # noqa: F811
    workers,
    push_service,
    chromium,  # noqa: F811
):
    beside_the_browser(poll_hours_of_prices, coingecko)
    # The key the worker signs with, made now so every process shares it.
    push_service.expected_vapid_key = beside_the_browser(push.public_key)
    browser = push_service.new_browser()
    # The push service listens on 127.0.0.1: daphne (which checks the
    # subscription) and the worker (which pushes) opt in, as for webhooks.
    workers.start(1, OUTBOUND_ALLOW_PRIVATE_IPS="True")
    env = {"TEST_DATABASE_URL": current_database_url(), "OUTBOUND_ALLOW_PRIVATE_IPS": "True"}

    with running_daphne(env) as server:
        context = chromium.new_context(base_url=server.http_url, viewport=DESKTOP)
        context.set_default_timeout(WAIT_MS)
        context.grant_permissions(["notifications"], origin=server.http_url)
        # Playwright's contexts are incognito, where Chromium refuses
        # pushManager.subscribe: it answers with the local service's browser.
        context.add_init_script(FAKE_SUBSCRIBE % json.dumps(browser.subscription()))
        page = context.new_page()

        sign_up(page, "gina")
        page.goto("/notifications/settings/")
        page.get_by_role("button", name="Enable push on this browser").click()
        page.locator("#push-subscriptions .this-browser").wait_for()

        page.goto("/coins/bitcoin/")
        page.wait_for_selector('#price-chart[data-state="ready"][data-price-lines="0"]')
        click_the_chart_near_its_top(page)
        page.wait_for_url(re.compile(r"/alerts/new/\?coin=bitcoin&condition=above&target="))
        assert page.locator("#id_coin").input_value() == "bitcoin"
        assert page.locator("#id_condition").input_value() == "above"
        target = Decimal(page.locator("#id_target").input_value())
        both_sizes(page, "chart-alert-form")
        page.locator('input[name="channels"][value="email"]').uncheck()
        page.locator('input[name="channels"][value="web_push"]').check()
        page.get_by_role("button", name="Create alert").click()
        page.wait_for_url(re.compile(r"/alerts/\d+/$"))
        alert = beside_the_browser(lambda: Alert.objects.select_related("coin").get())
        assert (alert.coin.coingecko_id, alert.condition, alert.target) == (
            "bitcoin",
            "above",
            target,
        )
        assert sorted(alert.channels) == ["in_app", "web_push"]

        page.goto("/coins/bitcoin/")
        page.wait_for_selector('#price-chart[data-state="ready"][data-price-lines="1"]')
        both_sizes(page, "chart-alert-coin")
        page.wait_for_selector('#connection-status[data-state="live"]')

        # The price crosses the target: poll, evaluate, deliver.
        coingecko.set_price("bitcoin", target + Decimal("150.25"))
        assert beside_the_browser(lambda: poll_once(force=True).ok)

        [received] = push_service.wait_for(1)
        assert received.signature_valid
        assert push_service.problems == []
        assert received.message["url"] == f"/alerts/{alert.pk}/"
        deliver_to_the_service_worker(page, context, server.http_url, received.message)
        [shown] = notifications_shown(page)
        assert shown["title"].startswith(f"BTC price is at or above {target.normalize():f}")
        assert shown["body"].startswith("Bitcoin: ")
        assert shown["data"]["url"] == f"{server.http_url}/alerts/{alert.pk}/"

        popup = page.locator(".alert-popup")
        popup.wait_for()
        assert "Bitcoin" in popup.inner_text()
        page.wait_for_selector("#unread-notifications:text-is('1')")

        page.goto("/notifications/")
        [entry] = page.locator(".inbox-entry.unread").all()
        assert f"BTC price is at or above {target.normalize():f}" in entry.inner_text()
        context.close()
