"""The alert form carries the preview's section and script; the form works as before."""

from decimal import Decimal

import pytest

pytestmark = pytest.mark.django_db


def test_the_new_and_edit_forms_carry_the_preview(client, owner, make_alert):
    client.force_login(owner)
    alert = make_alert(target=Decimal("35000"))
    pages = (
        ("/alerts/new/?coin=bitcoin", "/api/v1/alerts/preview/"),
        # The edit is previewed as the alert's replacement (its cap counted once).
        (f"/alerts/{alert.pk}/edit/", f"/api/v1/alerts/preview/?alert={alert.pk}"),
    )
    for url, api in pages:
        html = client.get(url).content.decode()
        assert 'id="alert-preview"' in html
        assert f'data-url="{api}"' in html
        assert "js/alert_preview.js" in html
        # Shown by its script only: without JavaScript it stays out of the way.
        assert 'aria-labelledby="alert-preview-title" hidden' in html


def test_the_preview_script_leaves_out_what_cannot_change_the_firings():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "static/js/alert_preview.js").read_text()
    for name in ("channels", "note", "expires_at", "csrfmiddlewaretoken"):
        assert f'"{name}"' in script
