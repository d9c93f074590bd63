"""The dashboard's live search offers to track a coin CryptoMonitor knows but does not poll."""

from __future__ import annotations

import pytest

from prices.tests.coins import catalogue_coin
from prices.tests.pipeline import alert_batches  # noqa: F401 (fixture)

# The Chromium, daphne and market fixtures and helpers of the prices browser tests.
from prices.tests.test_browser import (  # noqa: F401 (fixtures)
    DASHBOARD_URL,
    beside_the_browser,
    chromium,
    daphne,
    log_in,
    market,
    page,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_user_tracks_a_coin_found_by_the_live_search(page, django_user_model):  # noqa: F811
    beside_the_browser(catalogue_coin, "ethereum-classic", "etc", "Ethereum Classic", 40)
    beside_the_browser(
        django_user_model.objects.create_user, "fay", "fay@example.com", "a-long-Passphrase-42"
    )
    log_in(page, "fay@example.com", "a-long-Passphrase-42")

    page.get_by_label("Add a coin to your watchlist").fill("ethereum")
    results = page.locator("#coin-search-results")
    results.get_by_role("button", name="Watch Ethereum (ethereum)").wait_for()
    assert "not tracked yet" in results.locator("li", has_text="Ethereum Classic").inner_text()
    results.get_by_role("button", name="Track Ethereum Classic (ethereum-classic)").click()
    page.wait_for_url(DASHBOARD_URL)

    assert "Ethereum Classic (ETC) is now tracked" in page.locator("main").inner_text()
    cards = page.locator(".coin-card").evaluate_all("els => els.map(e => e.dataset.cardCoin)")
    assert cards[0] == "ethereum-classic"
