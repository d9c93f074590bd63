"""Inbox and notification settings pages: thin, behaviour is on the models."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import confirmation
from accounts.models import Profile
from common.delivery_channels import Channel
from notifications import push
from notifications.delivery import TooManyTestSends, send_test_notifications
from notifications.forms import NotificationSettingsForm
from notifications.models import (
    Delivery,
    DeliveryStatus,
    InAppNotification,
    NotificationSettings,
    PushSubscription,
)

INBOX_PAGE_SIZE = 50
# Failed deliveries stay on the inbox page this long.
FAILURES_SHOWN_FOR = timedelta(days=7)


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    entries = InAppNotification.objects.filter(user=request.user).unread_first()
    page = Paginator(entries, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    failures = (
        Delivery.objects.filter(
            user=request.user,
            status=DeliveryStatus.FAILED,
            updated_at__gte=timezone.now() - FAILURES_SHOWN_FOR,
        )
        .select_related("event__alert__coin")
        .order_by("-updated_at")[:20]
    )
    return render(request, "notifications/inbox.html", {"page": page, "failures": failures})


@require_POST
@login_required
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(InAppNotification, pk=pk, user=request.user)
    InAppNotification.objects.filter(pk=entry.pk).mark_read()
    if entry.url and request.POST.get("open"):
        return redirect(entry.url)
    return redirect("notifications:inbox")


@require_POST
@login_required
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = InAppNotification.objects.filter(user=request.user).mark_read()
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("notifications:inbox")


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    config = NotificationSettings.for_user(request.user)
    profile = Profile.for_user(request.user)
    form = NotificationSettingsForm(request.POST or None, instance=config, profile=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Notification settings saved.")
        if "notification_email" in form.changed_data:
            confirmation.ask_to_confirm(request, profile)
        return redirect("notifications:settings")
    recent = Delivery.objects.filter(user=request.user).tests().order_by("-created_at")[:10]
    context = {
        "form": form,
        "config": config,
        "profile": profile,
        "channels": Channel.choices,
        "recent_tests": recent,
        "push_subscriptions": PushSubscription.objects.filter(user=request.user),
        "vapid_public_key": push.public_key(),
    }
    return render(request, "notifications/settings.html", context)


@require_POST
@login_required
def regenerate_webhook_secret(request: HttpRequest) -> HttpResponse:
    NotificationSettings.for_user(request.user).regenerate_webhook_secret()
    messages.success(request, "New webhook secret generated: update your receiver.")
    return redirect("notifications:settings")


@require_POST
@login_required
def send_test(request: HttpRequest, channel: str) -> HttpResponse:
    if channel not in Channel.values:
        raise Http404("no such channel")
    try:
        send_test_notifications(request.user, [channel])
    except TooManyTestSends as limit:
        messages.error(request, str(limit))
    else:
        messages.success(
            request, f"Test notification queued on {Channel(channel).label}; its status is below."
        )
    return redirect("notifications:settings")
