"""Pages of a user's own alerts: list, create, detail with history, edit, pause, resume, delete.

Every lookup is scoped to the logged-in user, so another user's alert is a
404 that does not confirm it exists.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from alerts.currency_status import paused_currencies
from alerts.forms import AlertForm
from alerts.models import Alert, Condition, Status
from alerts.prefill import prefill
from alerts.progress import distances, rates_for
from common.display_currencies import display_currencies
from notifications.models import Delivery
from prices.models import decimal_text

EVENTS_PER_PAGE = 25


def _own_alert(request: HttpRequest, pk: int) -> Alert:
    return get_object_or_404(Alert.objects.select_related("coin"), pk=pk, user=request.user)


def _back_to(request: HttpRequest) -> str | None:
    """The page of ours an inline action was posted from (`next`), if any."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    ours = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if ours else None


def _back(request: HttpRequest, alert: Alert) -> HttpResponse:
    """Back to the list the button was on, else to the alert's page."""
    return redirect(_back_to(request) or alert)


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    alerts = Alert.objects.filter(user=request.user).select_related("coin")
    status = request.GET.get("status", "")
    if status in Status.values:
        alerts = alerts.filter(status=status)
    condition = request.GET.get("condition", "")
    if condition in Condition.values:
        alerts = alerts.filter(condition=condition)
    # Read each coin's price now, not as cached: the list shows how far each
    # alert is from firing (alerts.progress).
    rates = rates_for(alerts)
    found = distances(alerts, rates)
    for alert in alerts:
        alert.distance = found.get(alert.pk)
        # alert_list.js converts each live price into the alert's currency
        # with it; None: no usable rate, so the distance is not updated live.
        rate = rates.get(alert.currency)
        alert.live_factor = None
        if alert.in_base_currency:
            alert.live_factor = "1"
        elif rate is not None and not rate.stale:
            alert.live_factor = decimal_text(rate.factor)
    context = {
        "alerts": alerts,
        "coin_ids": sorted({alert.coin.coingecko_id for alert in alerts}),
        "statuses": Status.choices,
        "conditions": Condition.choices,
        "status": status,
        "condition": condition,
        "paused_currencies": paused_currencies(request.user),
    }
    return render(request, "alerts/alert_list.html", context)


@login_required
def alert_create(request: HttpRequest) -> HttpResponse:
    return _alert_form_page(request, Alert(user=request.user), creating=True)


@login_required
def alert_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _alert_form_page(request, _own_alert(request, pk), creating=False)


def _alert_form_page(request: HttpRequest, alert: Alert, creating: bool) -> HttpResponse:
    if request.method == "POST":
        form = AlertForm(request.POST, instance=alert)
        # A level alert already true is saved only once the person confirms.
        if form.is_valid() and not form.needs_confirmation:
            try:
                form.save()
            except ValidationError as error:
                # Reviving it active would pass the cap (checked again as it is
                # saved): nothing was saved.
                form.add_error(None, error)
            else:
                if alert.status == Status.EXPIRED:
                    messages.warning(
                        request,
                        f"Alert saved: {alert}. It is still expired: set an expiry in the future "
                        f"to make it {alert.revived_status} again.",  # paused if it expired paused
                    )
                else:
                    again = f"saved and {alert.status} again"  # paused if it expired paused
                    done = "created" if creating else again if form.revived else "saved"
                    messages.success(request, f"Alert {done}: {alert}.")
                return redirect(alert)
    else:
        # A new alert is in the reader's display currency; a link (the coin
        # page's chart) may prefill coin, condition, target and its currency.
        initial = None
        if creating:
            display = getattr(request, "display_currency", None)
            offered = display in display_currencies()
            initial = {"currency": display if offered else alert.currency}
            initial.update(prefill(request.GET))
        form = AlertForm(instance=alert, initial=initial)
    context = {
        "form": form,
        "creating": creating,
        "alert": alert,
        "paused_currencies": paused_currencies(request.user),
    }
    return render(request, "alerts/alert_form.html", context)


@login_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _own_alert(request, pk)
    events = alert.events.prefetch_related(
        Prefetch("deliveries", queryset=Delivery.objects.order_by("channel"))
    )
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"alert": alert, "page": page, "paused_currencies": paused_currencies(request.user)}
    return render(request, "alerts/alert_detail.html", context)


@login_required
@require_POST
def alert_pause(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _own_alert(request, pk)
    if alert.pause():
        messages.success(request, "Alert paused.")
    else:
        messages.warning(request, f"Only an active alert can be paused; it is {alert.status}.")
    return _back(request, alert)


@login_required
@require_POST
def alert_resume(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _own_alert(request, pk)
    # The page's button says Resume for a paused alert, Re-arm for a triggered one.
    done = "re-armed" if alert.status == Status.TRIGGERED else "resumed"
    try:
        resumed = alert.resume()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _back(request, alert)
    if resumed:
        messages.success(request, f"Alert {done}: it fires again when its condition is met.")
    else:
        messages.warning(
            request, f"Only a paused or triggered alert can be resumed; it is {alert.status}."
        )
    return _back(request, alert)


@login_required
def alert_delete(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _own_alert(request, pk)
    # The list's inline button asks first (ask_first) unless its script
    # already did: without JavaScript the person confirms on this page.
    if request.method == "POST" and not request.POST.get("ask_first"):
        description = str(alert)
        alert.delete()
        messages.success(request, f"Alert deleted: {description}.")
        return redirect(_back_to(request) or "alerts:list")
    context = {"alert": alert, "next": _back_to(request)}
    return render(request, "alerts/alert_confirm_delete.html", context)
