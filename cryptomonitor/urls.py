from django.contrib import admin
from django.urls import include, path

from cryptomonitor import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("alerts/", include("alerts.urls")),
    path("notifications/", include("notifications.urls")),
    path("api/", include("cryptomonitor.api_urls")),
    path("", include("prices.urls")),
]
