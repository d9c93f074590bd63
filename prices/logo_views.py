"""Our copies of coin logos (prices.logos), served from the database."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_GET

from prices.models import CoinLogo

# A URL carrying the logo's version (Coin.logo_url) never changes content.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "public, max-age=3600"


@require_GET
def coin_logo(request: HttpRequest, coingecko_id: str) -> HttpResponse:
    logo = (
        CoinLogo.objects.select_related("coin")
        .filter(coin__coingecko_id=coingecko_id)
        .exclude(content_type="")
        .first()
    )
    if logo is None:
        raise Http404("No logo of this coin is stored.")
    digest = logo.coin.logo_digest
    etag = f'"{digest}"'
    versioned = request.GET.get("v") == digest[:16]
    headers = {
        "ETag": etag,
        "Cache-Control": VERSIONED_CACHE if versioned else UNVERSIONED_CACHE,
    }
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(bytes(logo.data), content_type=logo.content_type)
    for name, value in headers.items():
        response[name] = value
    return response
