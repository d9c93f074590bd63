"""The alert list in headless Chromium: inline buttons and the live distance."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert
from alerts.tests.currencies import set_rate
from conftest import confirmed_user
from prices.ingest import store_quotes
from prices.models import Coin, PriceSource
from prices.tests.pipeline import alert_batches, quote  # noqa: F401 (fixture)
from prices.tests.test_browser import (  # noqa: F401 (fixtures)
    WAIT_MS,
    beside_the_browser,
    chromium,
    daphne,
    log_in,
    market,
    screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-Passphrase-42"


def _alerts_of_a_new_user(user_model) -> list[int]:
    user = confirmed_user(user_model, "lena", "lena@example.com", PASSWORD)
    bitcoin = Coin.objects.get(coingecko_id="bitcoin")
    above = Alert.objects.create(
        user=user, coin=bitcoin, condition="above", target=Decimal("30000"), note="the high one"
    )
    below = Alert.objects.create(
        user=user, coin=bitcoin, condition="below", target=Decimal("20000"), note="the low one"
    )
    return [above.pk, below.pk]


@pytest.fixture
def alerts_page(market, daphne, chromium, django_user_model) -> Iterator:  # noqa: F811
    """Lena's alert list, signed in, and the ids of her two alerts."""
    ids = beside_the_browser(_alerts_of_a_new_user, django_user_model)
    context = chromium.new_context(
        base_url=daphne.http_url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    log_in(page, "lena@example.com", PASSWORD)
    page.goto("/alerts/")
    yield page, ids
    context.close()


def row(page, alert_id: int):
    return page.locator(f'tr[data-alert-id="{alert_id}"]')


def test_pausing_and_resuming_from_the_list_stays_on_the_list(alerts_page):
    from playwright.sync_api import expect

    page, (above, _below) = alerts_page

    row(page, above).get_by_role("button", name="Pause").click()

    expect(page.get_by_text("Alert paused.")).to_be_visible()
    assert page.url.endswith("/alerts/")
    expect(row(page, above).locator(".alert-status")).to_have_text("Paused")
    row(page, above).get_by_role("button", name="Resume").click()
    expect(row(page, above).locator(".alert-status")).to_have_text("Active")


def test_delete_asks_first_and_a_no_keeps_the_alert(alerts_page):
    from playwright.sync_api import expect

    page, (above, below) = alerts_page
    questions = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    row(page, below).get_by_role("button", name="Delete").click()
    page.wait_for_timeout(300)  # a submit would have left the page by now
    expect(row(page, below)).to_have_count(1)

    page.once("dialog", lambda dialog: answer(dialog, True))
    row(page, below).get_by_role("button", name="Delete").click()

    expect(
        page.get_by_text(re.compile(r"^Alert deleted: \w+ price is at or below 20000\.$"))
    ).to_be_visible()
    expect(row(page, below)).to_have_count(0)
    expect(row(page, above)).to_have_count(1)
    assert len(questions) == 2
    assert all(
        re.fullmatch(r"Delete the alert \w+ price is at or below 20000\?", q) for q in questions
    )
    assert page.url.endswith("/alerts/")


def test_the_price_and_the_distance_follow_the_live_price(alerts_page):
    from playwright.sync_api import expect

    page, (above, _below) = alerts_page
    page.wait_for_selector('#connection-status[data-state="live"]')
    expect(row(page, above).locator(".alert-distance")).to_have_text("+11.11% (+$2,999.50)")

    beside_the_browser(
        store_quotes, [quote("bitcoin", "25000", at=timezone.now())], PriceSource.COINGECKO
    )

    expect(row(page, above).locator('[data-field="price"]')).to_have_text("$25,000.00")
    expect(row(page, above).locator(".alert-distance")).to_have_text("+20.00% (+$5,000.00)")
    screenshot(page, "alert-list")


def _an_alert_in_euros(user_model) -> int:
    user = user_model.objects.get(username="lena")
    set_rate("eur")
    bitcoin = Coin.objects.get(coingecko_id="bitcoin")
    alert = Alert.objects.create(
        user=user, coin=bitcoin, condition="above", target=Decimal("27000"), currency="eur"
    )
    return alert.pk


def test_a_euro_alerts_live_distance_is_in_euros(alerts_page, django_user_model):
    from playwright.sync_api import expect

    page, _ = alerts_page
    in_euros = beside_the_browser(_an_alert_in_euros, django_user_model)
    page.goto("/alerts/")  # bitcoin at 27000.5 USD: 24300.45 EUR
    page.wait_for_selector('#connection-status[data-state="live"]')
    expect(row(page, in_euros).locator(".alert-distance")).to_have_text("+11.11% (+€2,699.55)")

    beside_the_browser(
        store_quotes, [quote("bitcoin", "25000", at=timezone.now())], PriceSource.COINGECKO
    )

    expect(row(page, in_euros).locator('[data-field="price"]')).to_have_text("$25,000.00")
    expect(row(page, in_euros).locator(".alert-distance")).to_have_text("+20.00% (+€4,500.00)")
