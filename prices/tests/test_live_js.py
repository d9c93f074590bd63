"""live.js in headless Chromium: reconnects, stale marking, alert popups.

The happy path (a poll changes a price on screen) is in test_browser.py; these
are the failure paths of the socket itself, against a daphne that is stopped
and restarted on the same port.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client
from django.utils import timezone

from notifications.models import NotificationSettings
from prices.ingest import store_quotes
from prices.models import FeedState, PriceSource
from prices.polling import announce_feed
from prices.templatetags.price_format import money
from prices.tests.coins import priced_coin
from prices.tests.pipeline import alert_batches, quote  # noqa: F401 (fixture)
from prices.tests.test_browser import (  # noqa: F401 (fixture)
    CHROMIUM,
    CHROMIUM_ARGS,
    beside_the_browser,
    chromium,
    require_chromium,
)
from tests_support.live_server import current_database_url, running_daphne

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT_MS = 20_000  # a reconnect waits up to a few seconds of jittered backoff
PRICE = '[data-coin="bitcoin"][data-field="price"]'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def daphne_env() -> dict[str, str]:
    return {"TEST_DATABASE_URL": current_database_url()}


@pytest.fixture
def browser_page(request, port, alert_batches) -> Iterator:  # noqa: F811
    priced_coin("bitcoin", ("26800", "27000.5"), market_cap_rank=1)
    FeedState.current().record_success()
    browser = request.getfixturevalue("chromium")
    context = browser.new_context(base_url=f"http://127.0.0.1:{port}")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    yield page
    context.close()


def test_it_marks_prices_stale_while_down_and_shows_the_fresh_snapshot_after(
    browser_page, port, daphne_env
):
    page = browser_page
    with running_daphne(daphne_env, port=port):
        page.goto("/")
        page.wait_for_selector('#connection-status[data-state="live"]')
        assert page.locator(PRICE).inner_text() == "$27,000.50"

    page.wait_for_selector('#connection-status[data-state="reconnecting"]')
    page.wait_for_selector(f"{PRICE}.stale")
    # The price moves while the page cannot hear about it.
    beside_the_browser(
        store_quotes, [quote("bitcoin", "28000", at=timezone.now())], PriceSource.COINGECKO
    )

    with running_daphne(daphne_env, port=port):
        page.wait_for_selector('#connection-status[data-state="live"]')
        page.wait_for_function(
            f"() => document.querySelector('{PRICE}').textContent === '$28,000.00'"
        )
        assert "stale" not in (page.locator(PRICE).get_attribute("class") or "")


def _stale_feed() -> None:
    limit = settings.PRICE_POLL_SECONDS * settings.PRICE_STALE_AFTER_POLLS
    FeedState.objects.update(last_success_at=timezone.now() - timedelta(seconds=limit + 60))


def test_a_batch_shows_the_feed_state_the_server_sent_with_it(browser_page, port, daphne_env):
    page = browser_page
    banner = page.locator("#feed-stale-banner")
    beside_the_browser(_stale_feed)
    with running_daphne(daphne_env, port=port):
        page.goto("/")
        page.wait_for_selector('#connection-status[data-state="live"]')
        assert banner.is_visible()

        # Prices from a poll that missed a page: still stale, as /healthz says.
        beside_the_browser(
            store_quotes, [quote("bitcoin", "28000", at=timezone.now())], PriceSource.COINGECKO
        )
        page.wait_for_function(
            f"() => document.querySelector('{PRICE}').textContent === '$28,000.00'"
        )
        assert banner.is_visible()

        beside_the_browser(lambda: FeedState.current().record_success())
        beside_the_browser(
            store_quotes, [quote("bitcoin", "28100", at=timezone.now())], PriceSource.COINGECKO
        )
        banner.wait_for(state="hidden")


def test_a_failed_poll_shows_the_stale_banner_without_a_batch(browser_page, port, daphne_env):
    page = browser_page
    banner = page.locator("#feed-stale-banner")
    with running_daphne(daphne_env, port=port):
        page.goto("/")
        page.wait_for_selector('#connection-status[data-state="live"]')
        assert not banner.is_visible()
        page.evaluate(
            "window.snapshots = 0;"
            "document.addEventListener('cm:snapshot', () => { window.snapshots += 1; })"
        )

        # An outage: polls fail, no prices come, only the feed's state.
        beside_the_browser(_stale_feed)
        beside_the_browser(announce_feed)

        banner.wait_for(state="visible")
        # Shown by the message, not by a reconnect's snapshot.
        assert page.evaluate("window.snapshots") == 0


def _unreachable_feed() -> None:
    _stale_feed()
    FeedState.current().record_failure("CoinGecko /coins/markets: connection failed (x)", None)


def test_a_failed_poll_turns_the_header_pill_to_unreachable_and_says_why(
    browser_page, port, daphne_env
):
    page = browser_page
    pill = page.locator("#connection-status")
    with running_daphne(daphne_env, port=port):
        page.goto("/")
        page.wait_for_selector('#connection-status[data-state="live"][data-feed="live"]')
        assert pill.inner_text() == "live"

        beside_the_browser(_unreachable_feed)
        beside_the_browser(announce_feed)

        page.wait_for_selector('#connection-status[data-state="live"][data-feed="unreachable"]')
        assert pill.inner_text() == "feed unreachable"
        banner = page.locator("#feed-stale-banner").inner_text()
        assert "CoinGecko unreachable since the last good poll: connection failed." in banner
        assert re.search(r"Last good poll \d+m ago\. Prices shown are from \d+[sm] ago\.", banner)


def log_in(page, user, port: int) -> None:
    """Give the page's browser a session of `user`."""

    def session_cookie() -> str:
        client = Client()
        client.force_login(user)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": beside_the_browser(session_cookie),
                "url": f"http://127.0.0.1:{port}",
            }
        ]
    )


def test_a_signed_in_user_sees_a_dismissable_alert_popup(
    browser_page, port, daphne_env, django_user_model
):
    page = browser_page
    user = beside_the_browser(
        django_user_model.objects.create_user, "erin", "erin@example.com", "pw-erin-12345"
    )
    log_in(page, user, port)
    alert = {"id": 3, "event_id": 9, "coin": "bitcoin", "message": "Bitcoin rose above 27,500"}
    with running_daphne(daphne_env, port=port):
        page.goto("/")
        page.wait_for_selector('#connection-status[data-state="live"]')
        beside_the_browser(
            async_to_sync(get_channel_layer().group_send),
            f"user.{user.pk}",
            {"type": "user.alert", "alert": alert},
        )
        popup = page.locator("#alert-popups [role=status]")
        popup.wait_for()
        assert "Bitcoin rose above 27,500" in popup.inner_text()
        popup.get_by_role("button", name="Dismiss alert").click()
        popup.wait_for(state="detached")


def test_a_popup_names_the_coin_links_the_alert_counts_in_the_badge_and_chimes(
    browser_page, port, daphne_env, django_user_model
):
    page = browser_page
    user = beside_the_browser(
        django_user_model.objects.create_user, "fay", "fay@example.com", "pw-fay-123456"
    )
    beside_the_browser(lambda: NotificationSettings.objects.create(user=user, popup_sound=True))
    log_in(page, user, port)
    # Count what the page plays instead of playing it.
    page.add_init_script(
        "window.played = [];"
        "HTMLMediaElement.prototype.play = function () {"
        " window.played.push(this.src); return Promise.resolve(); };"
    )
    alert = {
        "id": 7,
        "event_id": 9,
        "coin": "Bitcoin",
        "symbol": "BTC",
        "condition": "price is at or above 27500",
        "message": "Price 27600 is at or above 27500.",
        "price": "27600",
        "url": "/alerts/7/",
    }
    with running_daphne(daphne_env, port=port):
        page.goto("/")
        page.wait_for_selector('#connection-status[data-state="live"]')
        assert page.locator("#unread-notifications").inner_text() == "0"
        beside_the_browser(
            async_to_sync(get_channel_layer().group_send),
            f"user.{user.pk}",
            {"type": "user.alert", "alert": alert},
        )
        popup = page.locator("#alert-popups [role=status]")
        popup.wait_for()
        text = popup.inner_text()
        assert "Bitcoin (BTC)" in text
        assert "Price is at or above 27500: now $27,600.00" in text
        assert popup.get_by_role("link", name="View alert").get_attribute("href") == "/alerts/7/"
        assert page.locator("#unread-notifications").inner_text() == "1"
        assert page.locator("#unread-notifications").get_attribute("aria-label") == "1 unread"
        assert page.evaluate("window.played") == [
            f"http://127.0.0.1:{port}/static/sounds/alert.wav"
        ]


@pytest.fixture(scope="module")
def format_price() -> Iterator[Callable[[str], str]]:
    """live.js's formatPrice, run in one Chromium page for every price below.

    Playwright's sync API keeps an event loop running in the thread that
    started it, where Django refuses database calls: a browser that outlives
    one test lives in a thread of its own, which makes every Playwright call.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    def start():
        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_content("<body></body>")
        page.add_script_tag(path=str(Path(settings.BASE_DIR) / "static" / "js" / "live.js"))
        return playwright, browser, page

    def stop() -> None:
        browser.close()
        playwright.stop()

    with ThreadPoolExecutor(max_workers=1) as browser_thread:
        playwright, browser, page = browser_thread.submit(start).result()
        try:
            yield lambda price: browser_thread.submit(
                page.evaluate, "price => window.CryptoMonitorLive.formatPrice(price)", price
            ).result()
        finally:
            browser_thread.submit(stop).result()


@pytest.mark.parametrize(
    "price",
    ["27000.5", "1", "0.99996", "0.5", "0.08123456", "0.00012345", "0.0000891234", "0.00000001"],
)
def test_it_formats_a_live_price_as_the_server_renders_it(format_price, price):
    assert format_price(price) == money(price)
