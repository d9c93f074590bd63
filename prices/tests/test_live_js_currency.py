"""live.js converts live base prices into the page's currency and prints them as the server does.

In headless Chromium with no server: a stand-in WebSocket hands live.js the
messages, as the unit tests of test_live_js.py load the script into a blank page.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from prices.tests.test_browser import chromium  # noqa: F401 (fixture)
from prices.tests.test_currencies import COMPACT_CASES, PRICE_CASES

pytestmark = [pytest.mark.browser]

LIVE_JS = Path(settings.BASE_DIR) / "static" / "js" / "live.js"
# Keeps the socket live.js opens, so a test can hand it messages.
FAKE_SOCKET = """
window.sockets = [];
window.WebSocket = function () { window.sockets.push(this); this.readyState = 1; };
window.WebSocket.OPEN = 1;
window.WebSocket.prototype.send = function () {};
window.WebSocket.prototype.close = function () {};
window.receive = function (message) {
  window.sockets[0].onmessage({ data: JSON.stringify(message) });
};
"""
EUR = {"currency": "eur", "base": "usd", "factor": "0.92", "fetched_at": None, "symbol": "€"}
BODY = (
    '<span id="page" data-currency="{code}" data-coin="bitcoin" data-field="price">-</span>'
    '<span id="cap" data-currency="{code}" data-coin="bitcoin" data-field="market_cap">-</span>'
    '<span id="plain" data-coin="bitcoin" data-field="price">-</span>'
)


@pytest.fixture
def blank(chromium):  # noqa: F811
    page = chromium.new_page()
    yield page
    page.close()


def open_page(page, rate: dict | None, code: str) -> None:
    script = f'<script id="display-currency" type="application/json">{json.dumps(rate)}</script>'
    page.set_content(f"<body>{BODY.format(code=code)}{script if rate else ''}</body>")
    page.add_script_tag(content=FAKE_SOCKET)
    page.add_script_tag(path=str(LIVE_JS))


def receive_bitcoin(page, price: str, market_cap: str) -> None:
    coin = {"id": "bitcoin", "price": price, "market_cap": market_cap, "updated_at": None}
    page.evaluate(
        "coin => window.receive({type: 'snapshot', currency: 'usd', coins: [coin], feed: null})",
        coin,
    )


def text(page, element_id: str) -> str:
    return page.locator(f"#{element_id}").inner_text()


def test_it_formats_each_currency_as_the_server_does(blank):
    open_page(blank, None, "usd")

    shown = blank.evaluate(
        "cases => cases.map(c => window.CryptoMonitorLive.formatPrice(c[0], c[1]))", PRICE_CASES
    )

    assert shown == [case[2] for case in PRICE_CASES]


def test_it_formats_market_caps_in_each_currency_as_the_server_does(blank):
    open_page(blank, None, "usd")

    shown = blank.evaluate(
        "cases => cases.map(c => window.CryptoMonitorLive.formatCompact(c[0], c[1]))",
        COMPACT_CASES,
    )

    assert shown == [case[2] for case in COMPACT_CASES]


def test_live_base_prices_are_shown_converted_in_the_pages_currency(blank):
    open_page(blank, EUR, "eur")

    receive_bitcoin(blank, "27500", "1320000000000")

    assert text(blank, "page") == "€25,300.00"
    assert text(blank, "cap") == "€1.21T"


def test_an_element_without_a_currency_keeps_the_base(blank):
    open_page(blank, EUR, "eur")

    receive_bitcoin(blank, "27500", "1320000000000")

    assert text(blank, "plain") == "$27,500.00"


def test_a_page_fallen_back_to_the_base_shows_base_prices(blank):
    base = {"currency": "usd", "base": "usd", "factor": "1", "fetched_at": None, "symbol": "$"}
    open_page(blank, base, "usd")

    receive_bitcoin(blank, "27500", "1320000000000")

    assert text(blank, "page") == "$27,500.00"


def test_a_currency_the_page_has_no_rate_for_is_shown_in_the_base(blank):
    open_page(blank, EUR, "jpy")

    receive_bitcoin(blank, "27500", "1320000000000")

    assert text(blank, "page") == "$27,500.00"
