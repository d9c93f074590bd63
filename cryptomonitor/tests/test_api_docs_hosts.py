"""The ReDoc page and the script it loads name no host but ours.

ReDoc's bundle draws Redocly's logo from https://cdn.redoc.ly in its sidebar,
whatever the options; cryptomonitor/api_docs.py serves it without. The same
page runs in Chromium in test_content_security_policy.py, with every request
outside the site refused and reported.
"""

from __future__ import annotations

import re

import pytest

from cryptomonitor.api_docs import REDOCLY_LOGO, redoc_bundle

pytestmark = pytest.mark.django_db

# An address a browser would fetch by itself: an attribute of the page, or a
# string the script hands to an <img>, a stylesheet or a fetch.
PAGE_ADDRESS = re.compile(r'(?:src|href)="([^"]+)"')
FETCHED_BY_THE_SCRIPT = re.compile(rb'(?:src:|url\(|fetch\(|import\()\s*["\']?(https?://[^"\')]+)')


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def test_the_redoc_page_loads_only_files_of_the_site(client):
    page = client.get("/api/redoc/").content.decode()

    addresses = PAGE_ADDRESS.findall(page)
    assert addresses and all(address.startswith("/") for address in addresses), addresses
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == ["/api/redoc/redoc.standalone.js"]


def test_the_redoc_script_fetches_nothing_from_elsewhere(client):
    response = client.get("/api/redoc/redoc.standalone.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    script = body(response)
    assert b"cdn.redoc.ly" not in script
    assert FETCHED_BY_THE_SCRIPT.findall(script) == []


def test_the_redoc_script_is_sent_compressed_and_revalidated(client):
    response = client.get("/api/redoc/redoc.standalone.js", HTTP_ACCEPT_ENCODING="gzip, br")

    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    again = client.get("/api/redoc/redoc.standalone.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_the_sidecar_bundle_still_names_the_logo_this_patch_removes():
    # A sidecar release that moves the logo must be looked at, not served as is.
    bundle = redoc_bundle()

    assert REDOCLY_LOGO not in bundle.plain
    assert re.search(rb'alt:"redocly logo",[^}]*src:"data:,"', bundle.plain)
