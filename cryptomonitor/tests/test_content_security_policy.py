"""Every page carries a Content-Security-Policy, and the pages pass it in a real browser.

The policy (settings.CONTENT_SECURITY_POLICY, django-csp) allows scripts and
styles from our own static files only: an injected <script> or inline handler
does not run. Headless Chromium loads each kind of page from a real daphne
and must report no violation, neither as a `securitypolicyviolation` event
nor as a console error; the API docs pages (Swagger UI, ReDoc) must still
render.
"""

from __future__ import annotations

import pytest

from prices.tests.pipeline import alert_batches  # noqa: F401 (fixture)

# The Chromium fixture and helpers of the prices browser tests.
from prices.tests.test_browser import (  # noqa: F401 (fixtures)
    WAIT_MS,
    chromium,
    market,
    sign_up,
)
from tests_support.live_server import current_database_url, running_daphne

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(
    `CSP violation on ${location.pathname}: ${event.violatedDirective} blocked ` +
      `${event.blockedURI} (from ${event.sourceFile}:${event.lineNumber}) ${event.sample}`
  );
});
"""


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.django_db
def test_pages_send_a_policy_without_inline_code(client):
    policy = policy_of(client.get("/"))

    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    # 'self' takes in ws:/wss: to this host: the live price socket.
    assert policy["connect-src"] == ["'self'"]
    # Coin logos are our own copies (prices.logos): no outside image host.
    assert policy["img-src"] == ["'self'", "data:"]


@pytest.mark.django_db
def test_the_api_docs_keep_scripts_to_our_own_files(client):
    for url in ("/api/docs/", "/api/redoc/"):
        policy = policy_of(client.get(url))

        assert policy["script-src"] == ["'self'"], url
        assert "'unsafe-inline'" not in policy["script-src"], url


@pytest.fixture(scope="module")
def daphne(django_db_setup):
    """One daphne for the module: each test's rows are committed, then flushed."""
    with running_daphne({"TEST_DATABASE_URL": current_database_url()}) as server:
        yield server


@pytest.fixture
def browser_page(market, daphne, chromium):  # noqa: F811
    context = chromium.new_context(base_url=daphne.http_url)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.add_init_script(REPORT_VIOLATIONS)
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Nothing leaves loopback: a request elsewhere is refused and reported.
    context.route(
        lambda url: not url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:")),
        lambda route: (
            errors.append(f"request outside the site: {route.request.url}") or route.abort()
        ),
    )
    page.on(
        "response",
        lambda response: (
            response.status >= 400 and errors.append(f"HTTP {response.status} {response.url}")
        ),
    )
    page.errors = errors
    yield page
    context.close()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_pages_run_under_the_policy_without_a_violation(browser_page):
    page = browser_page
    sign_up(page, "erin")  # allauth's sign-up form, posted under form-action 'self'

    # Dashboard: live.js connects its socket (connect-src), watchlist.js searches.
    response = page.goto("/?q=eth")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector('#connection-status[data-state="live"]')
    page.get_by_label("Add a coin to your watchlist").fill("bit")
    page.wait_for_selector("#coin-search-results li form")

    # Coin page: lightweight-charts draws the history.
    page.goto("/coins/bitcoin/")
    page.wait_for_selector('#price-chart[data-state="ready"]')

    page.goto("/alerts/new/")
    page.wait_for_selector("form select[name=coin]")

    assert page.errors == [], "\n".join(page.errors)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_api_docs_render_under_the_policy_without_a_violation(browser_page):
    page = browser_page

    response = page.goto("/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title")
    page.wait_for_selector(".swagger-ui .opblock")

    assert page.errors == [], "\n".join(page.errors)

    page.goto("/api/redoc/")
    page.wait_for_selector("h1:has-text('CryptoMonitor API')")
    page.wait_for_selector("text=/api/v1/coins/")
    # ReDoc's bundle drew Redocly's logo from a CDN: served without it now.
    origin = page.evaluate("location.origin")
    images = page.locator("img").evaluate_all("els => els.map(e => e.src)")
    assert [src for src in images if not src.startswith(("data:", origin))] == []

    assert page.errors == [], "\n".join(page.errors)
