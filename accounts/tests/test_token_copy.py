"""The Copy button beside a new API token, in headless Chromium against a real daphne.

In a secure context (127.0.0.1 is one) the key goes to the clipboard; where
the Clipboard API is missing, the key's text is selected for the keyboard.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import confirmed_user
from prices.tests.test_browser import (  # noqa: F401 (fixtures)
    WAIT_MS,
    beside_the_browser,
    chromium,
    daphne,
    log_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-Passphrase-42"
NO_CLIPBOARD_API = (
    "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});"
)


@pytest.fixture
def context(daphne, chromium) -> Iterator:  # noqa: F811
    context = chromium.new_context(base_url=daphne.http_url)
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


def new_token_page(context, django_user_model):
    """Signed in as a user with a confirmed address, just after creating a token."""
    beside_the_browser(confirmed_user, django_user_model, "tess", "tess@example.com", PASSWORD)
    page = context.new_page()
    log_in(page, "tess@example.com", PASSWORD)
    page.goto("/account/tokens/")
    page.get_by_label("Name").fill("backup script")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_selector("#new-token-key")
    return page


def test_copy_puts_the_new_token_on_the_clipboard(context, django_user_model):
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = new_token_page(context, django_user_model)
    key = page.get_by_label("New token key").input_value()

    page.get_by_role("button", name="Copy").click()

    page.wait_for_selector("#new-token-copy-status:has-text('Copied to the clipboard.')")
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert page.get_by_role("button", name="Copied").is_visible()


def test_without_the_clipboard_api_copy_selects_the_token(context, django_user_model):
    context.add_init_script(NO_CLIPBOARD_API)
    page = new_token_page(context, django_user_model)
    key = page.get_by_label("New token key").input_value()

    page.get_by_role("button", name="Copy").click()

    page.wait_for_selector("#new-token-copy-status:has-text('press Ctrl+C')")
    selected = page.evaluate(
        "(() => { const input = document.activeElement;"
        " return input.value.slice(input.selectionStart, input.selectionEnd); })()"
    )
    assert selected == key
