"""Every page a signed-in user reads fits a phone's width, in headless Chromium.

At 390 CSS pixels (a current iPhone) the page itself must not scroll
sideways: wide tables scroll inside their own box, long keys and addresses
wrap. Screenshots of each page at 1280 and 390 pixels land in
test-artifacts/screenshots/ on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from alerts.models import Alert, AlertEvent
from conftest import confirmed_user
from notifications.models import Delivery, DeliveryStatus, InAppNotification, NotificationSettings
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
from summaries.models import SummaryOccurrence, SummarySchedule

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "a-long-Passphrase-42"
LONG_ERROR = (
    "webhook https://hooks.example.com/services/T0123456789/B0123456789/abcdefghijklmnopqrstuvwx "
    "answered HTTP 503 Service Unavailable after 3 attempts"
)


def _a_user_with_history(user_model) -> int:
    """Tess: alerts of every kind, one that fired with a failed webhook, an inbox, tokens."""
    user = confirmed_user(user_model, "tess", "tess@example.com", PASSWORD)
    NotificationSettings.for_user(user)
    bitcoin = Coin.objects.get(coingecko_id="bitcoin")
    ethereum = Coin.objects.get(coingecko_id="ethereum")
    now = timezone.now()
    fired = Alert.objects.create(
        user=user,
        coin=bitcoin,
        condition="crosses_up",
        target=Decimal("27123.456789"),
        frequency="every_time",
        cooldown_seconds=3600,
        note="Take some profit before the weekend, and tell the webhook",
        channels=["email", "in_app", "webhook"],
        status="active",
        last_triggered_at=now,
        expires_at=now + timedelta(days=30),
    )
    Alert.objects.create(
        user=user, coin=ethereum, condition="pct_down", percent=Decimal("12.5"), window="24h"
    )
    Alert.objects.create(user=user, coin=ethereum, condition="below", target=Decimal("1500"))
    for minutes in (1, 90):
        event = AlertEvent.objects.create(
            alert=fired,
            coin=bitcoin,
            price=Decimal("27200.123456"),
            previous_price=Decimal("27100"),
            reason="Price 27200.123456 crossed above 27123.456789 (was 27100).",
            triggered_at=now - timedelta(minutes=minutes),
        )
        Delivery.objects.create(user=user, event=event, channel="in_app", status="sent")
        Delivery.objects.create(
            user=user,
            event=event,
            channel="webhook",
            status=DeliveryStatus.FAILED,
            attempts=3,
            last_error=LONG_ERROR,
        )
        InAppNotification.objects.create(
            user=user,
            title="Bitcoin (BTC) crossed above 27123.456789",
            body="Price 27200.123456 crossed above 27123.456789 (was 27100).",
            url=fired.get_absolute_url(),
        )
    # A test send that failed, as the settings page lists it.
    Delivery.objects.create(
        user=user,
        channel="webhook",
        status=DeliveryStatus.FAILED,
        attempts=3,
        last_error=LONG_ERROR,
    )
    for name in ("backup script on the home server", "grafana"):
        ApiToken.issue(user, name)
    # A summary on every channel, whose webhook failed, as its page lists it.
    schedule = SummarySchedule.objects.create(
        user=user, time_of_day="07:45", days="weekdays", channels=["email", "in_app", "webhook"]
    )
    occurrence = SummaryOccurrence.objects.create(
        schedule=schedule, scheduled_for=now - timedelta(hours=2), content={}
    )
    Delivery.objects.create(
        user=user,
        summary=occurrence,
        channel="webhook",
        status=DeliveryStatus.FAILED,
        attempts=3,
        last_error=LONG_ERROR,
    )
    return fired.pk


@pytest.fixture
def signed_in(market, daphne, chromium, django_user_model) -> Iterator:  # noqa: F811
    """A page signed in as Tess, and the id of her alert that fired."""
    alert_id = beside_the_browser(_a_user_with_history, django_user_model)
    context = chromium.new_context(base_url=daphne.http_url, viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    log_in(page, "tess@example.com", PASSWORD)
    yield page, alert_id
    context.close()


def widest(page) -> str:
    """The elements reaching past the window's right edge, for the failure message."""
    return page.evaluate(
        """() => [...document.querySelectorAll("main *")]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
          .slice(0, 8)
          .map((e) => {
            const right = Math.round(e.getBoundingClientRect().right);
            return `${e.tagName.toLowerCase()}.${e.className} ${right}`;
          })
          .join("; ")"""
    )


def test_each_page_fits_a_phone_without_sideways_scrolling(signed_in):
    page, alert_id = signed_in
    pages = {
        "dashboard": "/",
        "coin": "/coins/bitcoin/",
        "alerts": "/alerts/",
        "alert": f"/alerts/{alert_id}/",
        "inbox": "/notifications/",
        "notification-settings": "/notifications/settings/",
        "api-tokens": "/account/tokens/",
        "new-alert": "/alerts/new/",
        "edit-alert": f"/alerts/{alert_id}/edit/",
        "account": "/account/",
        "email-addresses": "/accounts/email/",
        "password": "/accounts/password/change/",
        "summaries": "/summaries/",
        "new-summary": "/summaries/new/",
    }
    too_wide = {}
    for name, url in pages.items():
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            page.goto(url)
            if name == "coin":
                page.wait_for_selector('#price-chart[data-state="ready"]')
            if name == "notification-settings":
                page.get_by_text("Show secret").click()  # the secret is one long word
            screenshot(page, f"layout-{name}-{size}")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > viewport["width"]:
                too_wide[f"{name} ({size})"] = f"{width}px: {widest(page)}"

    assert not too_wide, "\n".join(f"{name}: {found}" for name, found in too_wide.items())


def test_the_pages_of_a_visitor_fit_a_phone_without_sideways_scrolling(market, daphne, chromium):  # noqa: F811
    context = chromium.new_context(base_url=daphne.http_url, viewport=PHONE)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    too_wide = {}
    for name, url in {
        "log-in": "/accounts/login/",
        "sign-up": "/accounts/signup/",
        "password-reset": "/accounts/password/reset/",
    }.items():
        page.goto(url)
        screenshot(page, f"layout-{name}-phone")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[name] = f"{width}px: {widest(page)}"
    context.close()

    assert not too_wide, "\n".join(f"{name}: {found}" for name, found in too_wide.items())
