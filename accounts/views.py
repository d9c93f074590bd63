"""The account page (profile, links to allauth's pages); allauth's login, 429 when locked out;
confirming a notification address (accounts.confirmation)."""

from __future__ import annotations

from allauth.account.views import LoginView as AllauthLoginView
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import adapter, confirmation
from accounts.forms import ProfileForm
from accounts.models import Profile


@login_required
def account(request: HttpRequest) -> HttpResponse:
    profile = Profile.for_user(request.user)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile was saved.")
        if "notification_email" in form.changed_data:
            confirmation.ask_to_confirm(request, profile)
        return redirect("accounts:account")
    status = 400 if form.errors else 200
    return render(
        request, "accounts/account.html", {"form": form, "profile": profile}, status=status
    )


class LoginView(AllauthLoginView):
    """allauth's login page; a locked-out account or address is a 429 with Retry-After."""

    def form_invalid(self, form) -> HttpResponse:
        response = super().form_invalid(form)
        if any(error.code == adapter.LOCKED_OUT for error in form.non_field_errors().as_data()):
            response.status_code = 429
            login = form.cleaned_data.get("login", "")
            response["Retry-After"] = str(adapter.retry_after(self.request, login))
        return response


login = LoginView.as_view()


@require_POST
@login_required
def send_notification_email_link(request: HttpRequest) -> HttpResponse:
    """Mail the notification address its link again; back to the page that asked."""
    confirmation.ask_to_confirm(request, Profile.for_user(request.user))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "accounts:account"
    return redirect(target)


def confirm_notification_email(request: HttpRequest, token: str) -> HttpResponse:
    """The mailed link: a page to confirm on (a GET, e.g. a mail scanner's, changes nothing).

    No login needed: whoever reads that mailbox decides, and may not be the
    account's owner (a shared mailbox). The page names no account.
    """
    context: dict = {}
    try:
        context["address"] = confirmation.address_in(token)[1]
        if request.method == "POST":
            confirmation.confirm(token)
            context["confirmed"] = True
    except confirmation.InvalidLink as invalid:
        context["error"] = str(invalid)
    status = 400 if "error" in context else 200
    return render(request, "accounts/confirm_notification_email.html", context, status=status)
