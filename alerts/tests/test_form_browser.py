"""The alert form in headless Chromium: fields by condition, and the presets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from accounts.models import Profile
from alerts.models import Alert
from alerts.tests.currencies import set_rate
from conftest import confirmed_user
from prices.models import Coin
from prices.tests.pipeline import alert_batches  # noqa: F401 (fixture)
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
ZONE = "Asia/Tokyo"  # UTC+9 all year, and not the browser's zone (UTC)


def _a_user_in_tokyo(user_model) -> int:
    user = confirmed_user(user_model, "kenji", "kenji@example.com", PASSWORD)
    Profile.objects.create(user=user, time_zone=ZONE)
    bitcoin = Coin.objects.get(coingecko_id="bitcoin")
    moving = Alert.objects.create(
        user=user, coin=bitcoin, condition="pct_up", percent=Decimal("5"), window="1h"
    )
    return moving.pk


def _alert(pk: int) -> Alert:
    return Alert.objects.get(pk=pk)


def _newest_alert() -> Alert:
    return Alert.objects.latest("created_at")


def open_form(chromium, daphne, javascript: bool = True):  # noqa: F811
    context = chromium.new_context(
        base_url=daphne.http_url,
        viewport={"width": 1280, "height": 900},
        java_script_enabled=javascript,
    )
    context.set_default_timeout(WAIT_MS)
    return context, context.new_page()


@pytest.fixture
def kenji(market, daphne, chromium, django_user_model) -> Iterator:  # noqa: F811
    """A page signed in as Kenji (Tokyo), and the id of his movement alert."""
    alert_id = beside_the_browser(_a_user_in_tokyo, django_user_model)
    context, page = open_form(chromium, daphne)
    log_in(page, "kenji@example.com", PASSWORD)
    yield page, alert_id
    context.close()


def box(page, name: str):
    return page.locator(f'[data-form-field="{name}"]')


def test_the_form_shows_only_the_fields_the_condition_uses(kenji):
    from playwright.sync_api import expect

    page, _ = kenji
    page.goto("/alerts/new/?coin=bitcoin")

    page.get_by_label("Condition").select_option("above")
    expect(box(page, "target")).to_be_visible()
    expect(box(page, "percent")).to_be_hidden()
    expect(box(page, "window")).to_be_hidden()
    expect(box(page, "cooldown_seconds")).to_be_hidden()  # "once" is the default

    page.get_by_label("Condition").select_option("pct_move")
    expect(box(page, "target")).to_be_hidden()
    expect(box(page, "percent")).to_be_visible()
    expect(box(page, "window")).to_be_visible()

    page.get_by_label("Frequency").select_option("every_time")
    expect(box(page, "cooldown_seconds")).to_be_visible()
    screenshot(page, "alert-form-movement")


def test_market_range_and_step_conditions_show_their_own_fields(kenji):
    from playwright.sync_api import expect

    page, _ = kenji
    page.goto("/alerts/new/?coin=bitcoin")
    condition = page.get_by_label("Condition")
    fields = ("target", "threshold", "range_low", "range_high", "percent", "window")

    for chosen, shown in (
        ("market_cap_above", {"threshold"}),
        ("change_24h_below", {"threshold"}),
        ("enters_range", {"range_low", "range_high"}),
        ("pct_step", {"percent"}),
        ("pct_down", {"percent", "window"}),
    ):
        condition.select_option(chosen)
        for name in fields:
            if name in shown:
                expect(box(page, name)).to_be_visible()
            else:
                expect(box(page, name)).to_be_hidden()
    condition.select_option("exits_range")
    page.get_by_label("Range from (USD)").fill("26000")
    page.get_by_label("Range to (USD)").fill("28000")
    page.get_by_role("button", name="Create alert").click()
    page.wait_for_url("**/alerts/*/")
    alert = beside_the_browser(_newest_alert)
    assert (alert.condition, alert.range_low, alert.range_high) == (
        "exits_range",
        Decimal("26000"),
        Decimal("28000"),
    )


def test_a_movement_alert_turned_into_a_price_alert_saves_without_its_old_percent(kenji):
    page, alert_id = kenji
    page.goto(f"/alerts/{alert_id}/edit/")

    page.get_by_label("Condition").select_option("above")
    page.get_by_label("Target price (USD)").fill("40000")
    page.get_by_role("button", name="Save alert").click()
    page.wait_for_url(f"**/alerts/{alert_id}/")

    alert = beside_the_browser(_alert, alert_id)
    assert (alert.condition, alert.target, alert.percent, alert.window) == (
        "above",
        Decimal("40000"),
        None,
        "",
    )


def test_the_target_presets_count_from_the_coins_price(kenji):
    from playwright.sync_api import expect

    page, _ = kenji
    page.goto("/alerts/new/?coin=bitcoin")  # Bitcoin is at 27000.5
    page.get_by_label("Condition").select_option("below")
    target = page.get_by_label("Target price (USD)")

    page.get_by_role("button", name="−10 %").click()
    expect(target).to_have_value("24300.45")
    page.get_by_role("button", name="+10 %").click()
    expect(target).to_have_value("29700.55")

    page.get_by_label("Coin").select_option("ethereum")  # at 1800
    page.get_by_role("button", name="+5 %").click()
    expect(target).to_have_value("1890")
    screenshot(page, "alert-form-presets")


def _reading_in_euros(user_model) -> None:
    user = user_model.objects.get(username="kenji")
    Profile.objects.filter(user=user).update(display_currency="eur")
    set_rate("eur")


def test_the_target_presets_count_in_the_chosen_currency_at_its_rate(kenji, django_user_model):
    from playwright.sync_api import expect

    page, _ = kenji
    beside_the_browser(_reading_in_euros, django_user_model)
    page.goto("/alerts/new/?coin=bitcoin")  # 27000.5 USD, 24300.45 EUR
    page.get_by_label("Condition").select_option("above")
    expect(page.get_by_label("Currency")).to_have_value("eur")

    page.get_by_role("button", name="+5 %").click()
    expect(page.get_by_label("Target price (EUR)")).to_have_value("25515.47")

    expect(page.locator("[data-price-in-currency]")).to_have_text(", €24,300.45")

    page.get_by_label("Currency").select_option("gbp")  # no GBP rate fetched
    expect(page.locator("[data-price-in-currency]")).to_be_hidden()
    expect(page.get_by_label("Target price (GBP)")).to_be_visible()
    expect(page.get_by_role("button", name="+5 %").first).to_be_disabled()
    title = box(page, "target").locator(".form-presets").get_attribute("title")
    assert title.startswith("No up-to-date GBP exchange rate now")

    page.get_by_label("Currency").select_option("eur")
    page.get_by_role("button", name="Create alert").click()
    page.wait_for_url("**/alerts/*/")
    alert = beside_the_browser(_newest_alert)
    assert (alert.currency, alert.target) == ("eur", Decimal("25515.47"))


def test_the_expiry_presets_count_from_now_in_the_accounts_time_zone(kenji):
    page, _ = kenji
    page.goto("/alerts/new/?coin=bitcoin")
    page.get_by_label("Condition").select_option("above")
    page.get_by_label("Target price (USD)").fill("40000")

    before = datetime.now(UTC)
    page.get_by_role("button", name="In 1 day").click()
    typed = page.get_by_label(f"Expires at ({ZONE})").input_value()
    after = datetime.now(UTC)

    local = datetime.fromisoformat(typed).replace(tzinfo=ZoneInfo(ZONE))
    day = timedelta(days=1)
    assert before + day - timedelta(minutes=1) <= local <= after + day
    page.get_by_role("button", name="Create alert").click()
    page.wait_for_url("**/alerts/*/")
    assert beside_the_browser(_newest_alert).expires_at == local


def test_without_javascript_every_field_shows_and_the_form_still_saves(
    market,  # noqa: F811
    daphne,  # noqa: F811
    chromium,  # noqa: F811
    django_user_model,
):
    beside_the_browser(_a_user_in_tokyo, django_user_model)
    context, page = open_form(chromium, daphne, javascript=False)
    log_in(page, "kenji@example.com", PASSWORD)
    page.goto("/alerts/new/?coin=bitcoin")

    for name in ("target", "percent", "window", "cooldown_seconds", "expires_at"):
        assert box(page, name).is_visible(), name
    assert page.locator(".form-presets").count() == 0
    page.get_by_label("Condition").select_option("above")
    page.get_by_label("Target price (USD)").fill("40000")
    page.get_by_role("button", name="Create alert").click()
    page.wait_for_url("**/alerts/*/")
    assert beside_the_browser(_newest_alert).target == Decimal("40000")
    context.close()
