"""The alert form's preview in headless Chromium: it follows the form as it is typed."""

from __future__ import annotations

import pytest

from alerts.tests.test_form_browser import kenji  # noqa: F401 (fixture)
from prices.tests.pipeline import alert_batches  # noqa: F401 (fixture)
from prices.tests.test_browser import (  # noqa: F401 (fixtures)
    chromium,
    daphne,
    market,
    screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_preview_replays_the_alert_being_typed_and_shows_its_errors(kenji):  # noqa: F811
    from playwright.sync_api import expect

    page, _ = kenji
    page.goto("/alerts/new/?coin=bitcoin")
    preview = page.locator("#alert-preview")
    expect(preview).to_be_visible()

    page.get_by_label("Condition").select_option("above")
    page.get_by_label("Target price (USD)").fill("27100")
    # The market's hour of prices: 26800, 27050, 26900, 27200, 27000.5.
    expect(preview.locator("[data-preview-status]")).to_have_text("It would have fired 1 time.")
    expect(preview.locator('[data-count="fired_30d"]')).to_have_text("1")
    expect(preview.locator("[data-preview-firings] li")).to_contain_text("at 27200 USD")
    expect(preview.locator("[data-preview-note]")).to_contain_text("of history")
    expect(preview.locator("circle[data-firing]")).to_have_count(1)
    screenshot(page, "alert-form-preview")

    page.get_by_label("Target price (USD)").fill("-5")
    expect(preview.locator("[data-preview-errors]")).to_contain_text("Enter a price above zero.")
    # Below 26950 again after 27050: re-armed, it fires a second time.
    page.get_by_label("Condition").select_option("below")
    page.get_by_label("Target price (USD)").fill("26950")
    page.get_by_label("Frequency").select_option("every_time")
    page.get_by_label("Cooldown (seconds)").fill("60")
    expect(preview.locator("[data-preview-errors]")).to_be_hidden()
    expect(preview.locator('[data-count="fired_30d"]')).to_have_text("2")
