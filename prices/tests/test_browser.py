"""Headless Chromium against a real daphne: what a person sees and does.

Screenshots of the dashboard and a coin page land in test-artifacts/screenshots/
on every run. Without a browser the tests skip, except in CI (CI=true), where a
missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from prices.ingest import store_quotes
from prices.models import FeedState, PriceSource
from prices.tests.coins import priced_coin
from prices.tests.pipeline import alert_batches, quote  # noqa: F401 (fixture)
from tests_support.live_server import LiveServer, current_database_url, running_daphne

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
WAIT_MS = 10_000
T = TypeVar("T")
DASHBOARD_URL = re.compile(r"^http://127\.0\.0\.1:\d+/$")


def require_chromium() -> None:
    """Skip the test without a Chromium, except in CI (CI=true), where that fails it."""
    if not shutil.which(CHROMIUM):
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def chromium() -> Iterator:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def daphne(django_db_setup) -> Iterator[LiveServer]:
    """One daphne for the module: each test's rows are committed, then flushed."""
    with running_daphne({"TEST_DATABASE_URL": current_database_url()}) as server:
        yield server


@pytest.fixture
def page(market, daphne, chromium):
    context = chromium.new_context(
        base_url=daphne.http_url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def market(alert_batches):  # noqa: F811
    """Two coins with an hour of prices and a healthy feed."""
    priced_coin("bitcoin", ("26800", "27050", "26900", "27200", "27000.5"), market_cap_rank=1)
    priced_coin("ethereum", ("1850", "1830", "1790", "1800"), change="-2.5", market_cap_rank=2)
    FeedState.current().record_success()


def beside_the_browser(function: Callable[..., T], *args) -> T:
    """Run ORM work in another thread.

    Playwright's sync API keeps an event loop running in this thread, where
    Django refuses synchronous database access and async_to_sync.
    """

    def run() -> T:
        try:
            return function(*args)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_up(page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill("a-long-Passphrase-42")
    page.get_by_label("Password (again)").fill("a-long-Passphrase-42")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(DASHBOARD_URL)


def log_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(DASHBOARD_URL)


def test_a_visitor_signs_up_and_sees_prices_change_live(page):
    sign_up(page, "carol")

    price = page.locator('[data-coin="bitcoin"][data-field="price"]')
    assert price.inner_text() == "$27,000.50"
    assert page.locator("#feed-stale-banner").count() == 0
    page.wait_for_selector('#connection-status[data-state="live"]')

    beside_the_browser(
        store_quotes, [quote("bitcoin", "27111.25", at=timezone.now())], PriceSource.COINGECKO
    )

    page.wait_for_function(
        '() => document.querySelector(\'[data-coin="bitcoin"][data-field="price"]\')'
        ".textContent === '$27,111.25'"
    )
    screenshot(page, "dashboard")


def test_a_user_logs_in_and_watches_a_coin(page, django_user_model):
    beside_the_browser(
        django_user_model.objects.create_user, "dave", "dave@example.com", "a-long-Passphrase-42"
    )
    log_in(page, "dave@example.com", "a-long-Passphrase-42")

    page.get_by_label("Add a coin to your watchlist").fill("ether")
    page.get_by_role("button", name="Watch Ethereum (ethereum)").click()
    page.wait_for_url(DASHBOARD_URL)

    cards = page.locator(".coin-card").evaluate_all("els => els.map(e => e.dataset.cardCoin)")
    assert cards == ["ethereum", "bitcoin"]


def test_the_coin_page_draws_the_chart_and_switches_ranges(page):
    page.goto("/coins/bitcoin/")
    chart = page.locator("#price-chart")
    page.wait_for_selector('#price-chart[data-state="ready"][data-range="24h"]')
    assert int(chart.get_attribute("data-points")) >= 2
    assert page.locator("#price-chart canvas").count() > 0

    page.get_by_role("button", name="1h", exact=True).click()
    page.wait_for_selector('#price-chart[data-state="ready"][data-range="1h"]')
    assert page.get_by_role("button", name="1h", exact=True).get_attribute("aria-pressed") == "true"
    assert int(chart.get_attribute("data-points")) == 5

    page.get_by_role("button", name="7d").click()
    page.wait_for_selector('#price-chart[data-state="ready"][data-range="7d"]')
    assert page.get_by_role("button", name="24h").get_attribute("aria-pressed") == "false"
    screenshot(page, "coin-bitcoin")


def test_the_chart_says_plainly_when_the_history_request_fails(page):
    from playwright.sync_api import expect  # lazily, as the chromium fixture imports it

    # A proxy's HTML error page, as when daphne is down behind it.
    page.route(
        "**/history.json*",
        lambda route: route.fulfill(
            status=502, content_type="text/html", body="<html><h1>502 Bad Gateway</h1></html>"
        ),
    )
    page.goto("/coins/bitcoin/")

    page.wait_for_selector('#price-chart[data-state="error"]')
    expect(page.locator("#chart-status")).to_have_text(
        "Could not load the chart: the server answered HTTP 502."
    )


def test_a_reconnect_while_a_range_loads_reloads_the_range_chosen(page):
    held = []  # the 1h history requests, answered only when we say
    one_hour = lambda url: "range=1h" in url  # noqa: E731
    page.route(one_hour, lambda route: held.append(route))
    page.goto("/coins/bitcoin/")
    page.wait_for_selector('#price-chart[data-state="ready"][data-range="24h"]')
    page.wait_for_selector('#connection-status[data-state="live"]')
    page.get_by_role("button", name="1h", exact=True).click()
    while not held:
        page.wait_for_timeout(50)

    # live.js reconnected (its second snapshot) before the 1h chart arrived.
    page.evaluate("document.dispatchEvent(new CustomEvent('cm:snapshot', {detail: {coins: []}}))")
    for route in held:
        route.continue_()
    page.unroute(one_hour)  # lets through a 1h request that came after

    page.wait_for_selector('#price-chart[data-state="ready"][data-range="1h"]')


def test_the_coin_chart_grows_as_ticks_arrive(page):
    page.goto("/coins/bitcoin/")
    page.get_by_role("button", name="1h", exact=True).click()
    page.wait_for_selector('#price-chart[data-state="ready"][data-range="1h"][data-points="5"]')
    page.wait_for_selector('#connection-status[data-state="live"]')

    beside_the_browser(
        store_quotes, [quote("bitcoin", "27300", at=timezone.now())], PriceSource.COINGECKO
    )

    page.wait_for_selector('#price-chart[data-points="6"]')
    assert page.locator('[data-coin="bitcoin"][data-field="price"]').inner_text() == "$27,300.00"


def test_the_dashboard_fits_a_phone_screen(page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    page.wait_for_selector('#connection-status[data-state="live"]')

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    screenshot(page, "dashboard-phone")


def test_the_coin_page_fits_a_phone_screen_after_a_resize(page):
    page.goto("/coins/bitcoin/")
    page.wait_for_selector('#price-chart[data-state="ready"]')
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("document.documentElement.scrollWidth <= window.innerWidth")

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    screenshot(page, "coin-bitcoin-phone")


# Every label the chart draws on its time axis (the last row of its table),
# tagged with the animation frame that drew it.
RECORD_TIME_AXIS_LABELS = """
window.timeAxisLabels = [];
const requestFrame = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = (callback) =>
  requestFrame((now) => { window.paintFrame = now; callback(now); });
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  const row = this.canvas.closest && this.canvas.closest("#price-chart tr");
  if (row && !row.nextElementSibling) {
    window.timeAxisLabels.push({ text: String(text), frame: window.paintFrame });
  }
  return fillText.call(this, text, ...rest);
};
"""


def time_axis_labels(page) -> list[str]:
    """The labels of the time axis' last paint."""
    page.wait_for_timeout(300)  # the paints after a load settle
    drawn = page.evaluate("window.timeAxisLabels")
    assert drawn, "no label drawn on the time axis"
    return [label["text"] for label in drawn if label["frame"] == drawn[-1]["frame"]]


def _polls_seconds_apart() -> None:
    """A new install's first polls: bitcoin every 5 s over the last two minutes."""
    now = timezone.now().replace(microsecond=0)
    store_quotes(
        [quote("bitcoin", f"{27000 + i}", at=now - timedelta(seconds=5 * i)) for i in range(1, 25)],
        PriceSource.COINGECKO,
    )


def test_the_chart_names_each_time_axis_mark_once_at_every_range(page):
    beside_the_browser(_polls_seconds_apart)
    page.add_init_script(RECORD_TIME_AXIS_LABELS)
    page.goto("/coins/bitcoin/")
    page.wait_for_selector('#price-chart[data-state="ready"][data-range="24h"]')

    for range_key in ("1h", "24h", "7d"):
        page.get_by_role("button", name=range_key, exact=True).click()
        page.wait_for_selector(f'#price-chart[data-state="ready"][data-range="{range_key}"]')

        labels = time_axis_labels(page)
        assert len(labels) >= 2, (range_key, labels)
        assert len(set(labels)) == len(labels), (range_key, labels)
    screenshot(page, "coin-bitcoin-time-axis")
