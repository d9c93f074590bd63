"""Web Push pages: save and remove a browser's subscription, the service worker, the manifest."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from notifications import push
from notifications.models import PushSubscription
from notifications.validation import push_subscription_errors

# A PushSubscription's JSON is about 500 bytes; FCM's endpoints are the longest.
MAX_BODY_BYTES = 4096
THEME_COLOR = "#1d5fd1"  # the icons' blue (scripts/make_app_icons.py)


@require_POST
@login_required
def subscribe(request: HttpRequest) -> JsonResponse:
    """Save this browser's push subscription (its PushSubscription.toJSON()).

    Session and CSRF (X-CSRFToken) as any form; 201 with the subscription's
    id, or 400 with `errors`.
    """
    errors, fields = _subscription_fields(request)
    if not errors and not _may_add(request.user, fields["endpoint"]):
        errors = [
            f"At most {push.MAX_SUBSCRIPTIONS_PER_USER} browsers may have push enabled: "
            "remove one on the notification settings page first."
        ]
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    subscription = push.subscribe(
        request.user, **fields, user_agent=request.headers.get("User-Agent", "")
    )
    return JsonResponse({"id": subscription.pk, "browser": subscription.browser}, status=201)


def _subscription_fields(request: HttpRequest) -> tuple[list[str], dict[str, str]]:
    if len(request.body) > MAX_BODY_BYTES:
        return ["The subscription is too large."], {}
    try:
        body = json.loads(request.body)
        endpoint, keys = body["endpoint"], body["keys"]
        fields = {"endpoint": endpoint, "p256dh": keys["p256dh"], "auth": keys["auth"]}
    except (ValueError, KeyError, TypeError):
        return ["Send the browser's PushSubscription as JSON: endpoint and keys."], {}
    if not all(isinstance(value, str) for value in fields.values()):
        return ["The endpoint and keys must be strings."], {}
    return push_subscription_errors(**fields), fields


def _may_add(user, endpoint: str) -> bool:
    """Whether `user` is under the cap, or re-saving a browser it has already."""
    owned = PushSubscription.objects.filter(user=user)
    if owned.filter(endpoint=endpoint).exists():
        return True
    return owned.count() < push.MAX_SUBSCRIPTIONS_PER_USER


@require_POST
@login_required
def remove_subscription(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(PushSubscription, pk=pk, user=request.user)
    subscription.delete()
    messages.success(request, f"Push turned off for {subscription.browser or 'that browser'}.")
    return redirect("notifications:settings")


@require_GET
@never_cache
def service_worker(request: HttpRequest) -> FileResponse:
    """static/js/sw.js from the site's root, so its scope is the whole site."""
    path = finders.find("js/sw.js")
    if not path:
        raise Http404("no service worker")
    response = FileResponse(open(path, "rb"), content_type="text/javascript; charset=utf-8")  # noqa: SIM115 - FileResponse closes it
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: CryptoMonitor installs as an app opening the dashboard."""
    icons = [
        {"src": static(f"img/icon-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png"}
        for size in (192, 512)
    ]
    body = {
        "name": "CryptoMonitor",
        "short_name": "CryptoMonitor",
        "description": "Live cryptocurrency prices and price alerts.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOR,
        "icons": icons,
    }
    response = JsonResponse(body, content_type="application/manifest+json")
    response["Cache-Control"] = "max-age=3600"
    return response
