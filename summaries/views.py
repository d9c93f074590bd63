"""Pages of a user's own summary schedules: list, create, edit, delete.

Every lookup is scoped to the logged-in user, so another user's schedule is
a 404 that does not confirm it exists.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from summaries.forms import SummaryScheduleForm
from summaries.models import SummaryOccurrence, SummarySchedule

RECENT_SHOWN = 5


def _own_schedule(request: HttpRequest, pk: int) -> SummarySchedule:
    return get_object_or_404(
        SummarySchedule.objects.select_related("user__profile"), pk=pk, user=request.user
    )


@login_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    schedules = list(
        SummarySchedule.objects.filter(user=request.user).select_related("user__profile")
    )
    now = timezone.now()
    for schedule in schedules:
        schedule.next = schedule.next_at(now)
    recent = (
        SummaryOccurrence.objects.filter(schedule__user=request.user)
        .select_related("schedule")
        .prefetch_related("deliveries")
        .order_by("-scheduled_for")[:RECENT_SHOWN]
    )
    context = {
        "schedules": schedules,
        "recent": recent,
        "time_zone": SummarySchedule(user=request.user).zone().key,
        "can_add": len(schedules) < settings.SUMMARIES_MAX_PER_USER,
        "most": settings.SUMMARIES_MAX_PER_USER,
    }
    return render(request, "summaries/schedule_list.html", context)


@login_required
def schedule_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, SummarySchedule(user=request.user), creating=True)


@login_required
def schedule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, _own_schedule(request, pk), creating=False)


def _form_page(request: HttpRequest, schedule: SummarySchedule, creating: bool) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = SummaryScheduleForm(data, instance=schedule)
    if request.method == "POST" and form.is_valid():
        try:
            form.save()
        except ValidationError as error:  # the cap, counted again under its lock
            form.add_error(None, error)
        else:
            done = "created" if creating else "saved"
            messages.success(request, f"Summary {done}: {schedule.describe()}.")
            return redirect("summaries:list")
    context = {"form": form, "creating": creating, "schedule": schedule}
    return render(request, "summaries/schedule_form.html", context)


@login_required
def schedule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _own_schedule(request, pk)
    if request.method == "POST":
        description = schedule.describe()
        schedule.delete()
        messages.success(request, f"Summary deleted: {description}.")
        return redirect("summaries:list")
    return render(request, "summaries/schedule_confirm_delete.html", {"schedule": schedule})
