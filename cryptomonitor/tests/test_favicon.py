"""The site's icon wherever a browser looks for one.

Pages of the site name static/img/favicon.svg; where a page names none (the
admin's, Django's error pages, the API's JSON), browsers ask for /favicon.ico,
which answers with the same drawing (scripts/make_favicon.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static

SITE_ICON = '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">'


@pytest.mark.django_db
def test_favicon_ico_answers_with_the_sites_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == static("img/favicon.ico")
    assert "max-age=86400" in response["Cache-Control"]
    icon = Path(finders.find("img/favicon.ico")).read_bytes()
    assert icon[:4] == b"\0\0\1\0"  # an ICO file's header: reserved 0, type 1 (icon)
    assert icon.count(b"\x89PNG") == 3  # 16, 32 and 48 pixels


@pytest.mark.django_db
def test_the_api_docs_and_the_admin_name_the_sites_icon(client, admin_user):
    client.force_login(admin_user)
    for url in ("/api/docs/", "/api/redoc/", "/admin/", "/admin/status/", "/admin/auth/user/"):
        page = client.get(url).content.decode()

        assert re.findall(r'<link rel="icon"[^>]*>', page) == [SITE_ICON], url
