"""End to end: the fake CoinGecko moves a price, and the alert's owner hears of it.

Real collaborators throughout: the fake CoinGecko HTTP server, poll_once() in
this process, a real Celery worker that evaluates and delivers, the aiosmtpd
server, daphne serving the pages, and two headless Chromium browsers.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from alerts.models import Alert
from notifications.tests.conftest import wait_for
from prices.models import Coin
from prices.polling import poll_once
from prices.tests.test_browser import WAIT_MS, beside_the_browser, chromium  # noqa: F401
from tests_support.live_server import current_database_url, running_daphne

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def session_cookie(user, server) -> dict:
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.http_url}


def browser_page(browser, server, cookie: dict):
    """A page of one user's own browser, logged in, on the dashboard, connected live."""
    context = browser.new_context(base_url=server.http_url)
    context.set_default_timeout(WAIT_MS)
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto("/")
    page.wait_for_selector('#connection-status[data-state="live"]')
    return page


def alert_above_the_price(user) -> Alert:
    assert poll_once(force=True).ok  # the first poll brings in bitcoin
    coin = Coin.objects.get(coingecko_id="bitcoin")
    return Alert.objects.create(
        user=user,
        coin=coin,
        condition="above",
        target=coin.price + 100,
        channels=["email", "in_app"],
    )


def test_a_price_move_emails_the_owner_and_pops_up_in_their_browser_only(
    coingecko,
    owner,
    stranger,
    smtp,
    workers,
    chromium,  # noqa: F811
):
    # Playwright runs an event loop in this thread: ORM work goes beside it.
    workers.start(smtp.port)
    alert = beside_the_browser(alert_above_the_price, owner)
    price = Decimal(coingecko.move("bitcoin", 0))

    with running_daphne({"TEST_DATABASE_URL": current_database_url()}) as server:
        owners_page = browser_page(
            chromium, server, beside_the_browser(session_cookie, owner, server)
        )
        strangers_page = browser_page(
            chromium, server, beside_the_browser(session_cookie, stranger, server)
        )

        coingecko.set_price("bitcoin", price + Decimal("250.5"))
        assert beside_the_browser(lambda: poll_once(force=True).ok)

        popup = owners_page.locator(".alert-popup")
        popup.wait_for()
        assert f"at or above {alert.target.normalize():f}" in popup.inner_text()
        assert popup.get_by_role("link", name="View alert").get_attribute("href") == (
            f"/alerts/{alert.pk}/"
        )
        strangers_page.wait_for_timeout(1500)
        assert strangers_page.locator(".alert-popup").count() == 0

    wait_for(lambda: smtp.messages, what="the alert email")
    [message] = smtp.messages
    assert message["To"] == "alice@example.com"
    assert message["Subject"].startswith("CryptoMonitor: BTC price is at or above")
