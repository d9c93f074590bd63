"""ReDoc's script as /api/redoc/ loads it: without the Redocly logo from a CDN.

drf-spectacular-sidecar ships ReDoc's standalone bundle, whose sidebar footer
draws Redocly's logo from https://cdn.redoc.ly whatever the options say; the
docs pages promise to load nothing from elsewhere. This view serves the bundle
with that one address replaced by an empty data: image, which fails to load,
so ReDoc's own error handler draws no image at all. A bundle without the
address (a new sidecar release) fails loudly at the first request, and in
cryptomonitor/tests/test_api_docs_hosts.py.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import cache_control
from django.views.decorators.http import etag, require_safe

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOCLY_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'
NO_IMAGE = b'"data:,"'
# The map sits beside the sidecar's file, not beside this view's URL.
SOURCE_MAP_COMMENT = b"\n//# sourceMappingURL=redoc.standalone.js.map"


@dataclass(frozen=True)
class Bundle:
    plain: bytes
    gzipped: bytes
    etag: str


@functools.cache
def redoc_bundle() -> Bundle:
    """The sidecar's ReDoc bundle, patched once per process."""
    path = finders.find(REDOC_BUNDLE)
    if not path:
        raise ImproperlyConfigured(f"No {REDOC_BUNDLE} among the static files.")
    source = Path(path).read_bytes()
    if source.count(REDOCLY_LOGO) != 1:
        raise ImproperlyConfigured(
            f"{REDOC_BUNDLE} no longer names {REDOCLY_LOGO.decode()} once: "
            "see cryptomonitor/api_docs.py before upgrading drf-spectacular-sidecar."
        )
    plain = source.replace(REDOCLY_LOGO, NO_IMAGE).replace(SOURCE_MAP_COMMENT, b"")
    return Bundle(
        plain=plain,
        gzipped=gzip.compress(plain, mtime=0),
        etag=hashlib.sha256(plain).hexdigest()[:32],
    )


@require_safe
@cache_control(public=True, max_age=86_400)
@etag(lambda request: redoc_bundle().etag)
def redoc_script(request: HttpRequest) -> HttpResponse:
    bundle = redoc_bundle()
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(bundle.gzipped, content_type="text/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(bundle.plain, content_type="text/javascript; charset=utf-8")
    patch_vary_headers(response, ["Accept-Encoding"])
    return response
