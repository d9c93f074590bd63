from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.cache import cache_control

from accounts import views as account_views
from cryptomonitor import health, status_page
from notifications import push_views

# The admin takes no password itself: its login page sends visitors to
# allauth's, so one lockout counts failed logins at every door (accounts.adapter).
admin.site.login = secure_admin_login(admin.site.login)


@cache_control(max_age=86_400)
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Where browsers look for an icon on pages that name none (admin, errors, JSON)."""
    return HttpResponseRedirect(static("img/favicon.ico"))


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    # Web Push's service worker and the app manifest: from the root, so the
    # worker's scope is the whole site (notifications.push_views).
    path("sw.js", push_views.service_worker, name="service_worker"),
    path("manifest.webmanifest", push_views.manifest, name="web_manifest"),
    # Staff only (admin_view): before the admin's own catch-all URLs.
    path(
        "admin/status/",
        admin.site.admin_view(status_page.system_status),
        name="system_status",
    ),
    path("admin/", admin.site.urls),
    # allauth's login, answering 429 once locked out; before allauth's own URLs.
    path("accounts/login/", account_views.login, name="account_login"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("alerts/", include("alerts.urls")),
    path("notifications/", include("notifications.urls")),
    path("summaries/", include("summaries.urls")),
    path("api/", include("cryptomonitor.api_urls")),
    path("", include("prices.urls")),
]
