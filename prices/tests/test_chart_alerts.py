"""Alerts on the coin page's chart: the owner's lines, and a click that opens the form.

The page hands the chart its lines in a JSON script tag (the CSP forbids
inline scripts); the browser tests check what chart.js does with them.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts.models import Profile
from alerts.models import Alert, Condition
from prices.tests.coins import priced_coin, rates_fetched
from prices.tests.pipeline import alert_batches  # noqa: F401 (fixture)
from prices.tests.test_browser import (  # noqa: F401 (fixtures)
    beside_the_browser,
    chromium,
    daphne,
    log_in,
    market,
    page,
)


def make_alert(user, coin, condition: str, target: str, status: str = "active") -> Alert:
    return Alert.objects.create(
        user=user, coin=coin, condition=condition, target=Decimal(target), status=status
    )


def price_lines(response) -> list[dict]:
    html = response.content.decode()
    tag = r'<script id="alert-price-lines" type="application/json">(.*?)</script>'
    found = re.search(tag, html)
    assert found, "no alert-price-lines script tag"
    return json.loads(found.group(1))


@pytest.mark.django_db
def test_the_chart_gets_a_line_for_each_active_price_alert_of_the_owner(client, owner):
    bitcoin = priced_coin("bitcoin")
    ethereum = priced_coin("ethereum")
    make_alert(owner, bitcoin, Condition.ABOVE, "30000")
    make_alert(owner, bitcoin, Condition.CROSSES_DOWN, "25000.50")
    make_alert(owner, bitcoin, Condition.BELOW, "20000", status="paused")
    make_alert(owner, bitcoin, Condition.BELOW, "21000", status="triggered")
    make_alert(owner, ethereum, Condition.ABOVE, "2000")
    Alert.objects.create(
        user=owner, coin=bitcoin, condition=Condition.PCT_UP, percent=Decimal("5"), window="1h"
    )
    client.force_login(owner)

    lines = price_lines(client.get(bitcoin.get_absolute_url()))

    assert sorted(lines, key=lambda line: line["price"]) == [
        {"price": "25000.5", "title": "crosses down"},
        {"price": "30000", "title": "above"},
    ]


@pytest.mark.django_db
def test_a_stranger_and_an_anonymous_visitor_get_no_lines(client, owner, stranger):
    bitcoin = priced_coin("bitcoin")
    make_alert(owner, bitcoin, Condition.ABOVE, "30000")

    assert price_lines(client.get(bitcoin.get_absolute_url())) == []
    client.force_login(stranger)
    assert price_lines(client.get(bitcoin.get_absolute_url())) == []


@pytest.mark.django_db
def test_the_chart_knows_where_the_alert_form_is(client):
    bitcoin = priced_coin("bitcoin")

    html = client.get(bitcoin.get_absolute_url()).content.decode()

    assert 'data-alert-url="/alerts/new/"' in html
    assert "Click a price on the chart to set an alert" in html


# --- in the browser ---------------------------------------------------------


def click_chart(page, y_fraction: float) -> None:  # noqa: F811
    """Click the chart's plot at a height (0 top, 1 bottom of the chart box)."""
    page.wait_for_selector('#price-chart[data-state="ready"]')
    page.locator("#price-chart").scroll_into_view_if_needed()
    box = page.locator("#price-chart").bounding_box()
    page.mouse.move(0, 0)  # enter the chart afresh: the pointer may be in it from the last page
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] * y_fraction)
    page.wait_for_selector(".chart-alert-tag:not([hidden])")
    page.mouse.click(box["x"] + box["width"] / 3, box["y"] + box["height"] * y_fraction)


def form_query(page) -> dict[str, str]:  # noqa: F811
    page.wait_for_url(re.compile(r"/alerts/new/\?"))
    return {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_owner_sees_lines_and_a_click_opens_the_prefilled_form(page, django_user_model):  # noqa: F811
    def setup() -> None:
        user = django_user_model.objects.create_user(
            "erin", "erin@example.com", "a-long-Passphrase-42"
        )
        bitcoin = Alert._meta.get_field("coin").related_model.objects.get(coingecko_id="bitcoin")
        make_alert(user, bitcoin, Condition.ABOVE, "27150")
        make_alert(user, bitcoin, Condition.BELOW, "26850")
        make_alert(user, bitcoin, Condition.BELOW, "26000", status="paused")

    beside_the_browser(setup)
    log_in(page, "erin@example.com", "a-long-Passphrase-42")
    page.goto("/coins/bitcoin/")
    page.wait_for_selector('#price-chart[data-state="ready"][data-price-lines="2"]')

    click_chart(page, 0.08)  # near the top: over the price now (27000.5)

    query = form_query(page)
    assert query["coin"] == "bitcoin"
    assert query["condition"] == "above"
    assert Decimal(query["target"]) > Decimal("27000.5")
    assert page.locator("#id_coin").input_value() == "bitcoin"
    assert page.locator("#id_condition").input_value() == "above"
    assert Decimal(page.locator("#id_target").input_value()) == Decimal(query["target"])

    page.goto("/coins/bitcoin/")
    click_chart(page, 0.8)  # near the bottom: under it

    query = form_query(page)
    assert query["condition"] == "below"
    assert Decimal(query["target"]) < Decimal("27000.5")
    assert page.locator("#id_condition").input_value() == "below"


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_anonymous_click_on_the_chart_leads_to_log_in_then_the_form(page, django_user_model):  # noqa: F811
    beside_the_browser(
        django_user_model.objects.create_user, "fay", "fay@example.com", "a-long-Passphrase-42"
    )
    page.goto("/coins/bitcoin/")
    page.wait_for_selector('#price-chart[data-state="ready"][data-price-lines="0"]')

    click_chart(page, 0.08)

    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_label("Username or email").fill("fay@example.com")
    page.get_by_label("Password", exact=True).fill("a-long-Passphrase-42")
    page.get_by_role("button", name="Log in").click()
    query = form_query(page)
    assert (query["coin"], query["condition"]) == ("bitcoin", "above")
    assert page.locator("#id_coin").input_value() == "bitcoin"
    assert Decimal(page.locator("#id_target").input_value()) == Decimal(query["target"])


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_chart_in_yen_opens_the_form_with_the_price_in_the_base(page, django_user_model):  # noqa: F811
    def setup() -> None:
        user = django_user_model.objects.create_user(
            "gus", "gus@example.com", "a-long-Passphrase-42"
        )
        Profile.objects.create(user=user, display_currency="jpy")
        rates_fetched(jpy="149.5")

    beside_the_browser(setup)
    log_in(page, "gus@example.com", "a-long-Passphrase-42")
    page.goto("/coins/bitcoin/")
    assert page.locator('[data-coin="bitcoin"][data-field="price"]').inner_text().startswith("¥4,")

    click_chart(page, 0.08)  # over the price now: 27000.5 USD, about 4.04 million yen

    target = Decimal(form_query(page)["target"])
    assert Decimal("27000.5") < target < Decimal("30000")
