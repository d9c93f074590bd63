"""The versioned REST API (docs/api.md) and its OpenAPI schema; mounted at /api/."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace, csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import DefaultRouter

from accounts.api import TokenObtainView
from alerts.api import AlertViewSet
from alerts.preview_api import AlertPreviewView
from common.api_errors import api_not_found
from cryptomonitor.api_docs import redoc_script
from notifications.api import DeliveryViewSet, NotificationViewSet
from notifications.profile_api import MeView
from prices.api import CoinViewSet, SymbolHistoryView, WatchlistViewSet
from summaries.api import SummaryScheduleViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("coins", CoinViewSet, basename="coin")
router.register("watchlist", WatchlistViewSet, basename="watchlist")
router.register("alerts", AlertViewSet, basename="alert")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("deliveries", DeliveryViewSet, basename="delivery")
router.register("summaries", SummaryScheduleViewSet, basename="summary")

v1 = [
    # Before the router, whose alerts/{id}/ would take "preview" for an id.
    path("alerts/preview/", AlertPreviewView.as_view(), name="alert-preview"),
    path("", include(router.urls)),
    path("prices/<str:symbol>/history/", SymbolHistoryView.as_view(), name="symbol-history"),
    path("me/", MeView.as_view(), name="me"),
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
]

app_name = "api"
urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own
    # (?script): the site's Content-Security-Policy runs no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    # ReDoc styles itself with <style> elements it writes at run time and
    # searches in a worker it makes from a blob: on this page alone, inline
    # styles and blob: workers (still never an inline script) are allowed.
    # Its script is the sidecar's with the hard-coded Redocly logo from a CDN
    # taken out (cryptomonitor/api_docs.py): no third party learns who reads
    # our docs; the policy refuses images from elsewhere besides.
    path("redoc/redoc.standalone.js", redoc_script, name="redoc-script"),
    path(
        "redoc/",
        csp_replace({"img-src": [SELF, "data:"]})(
            csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})(
                SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html")
            )
        ),
        name="redoc",
    ),
    # Everything else under /api/ answers in the API's error shape, not HTML.
    re_path(r"^.*$", api_not_found),
]
