"""The staff-only "System status" page of the admin (cryptomonitor.system_status)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from cryptomonitor.system_status import current_status


@never_cache
def system_status(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "System status",
        "status": current_status(),
    }
    return TemplateResponse(request, "admin/system_status.html", context)
