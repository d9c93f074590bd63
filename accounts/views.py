"""The account page (profile, links to allauth's pages); allauth's login, 429 when locked out."""

from __future__ import annotations

from allauth.account.views import LoginView as AllauthLoginView
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts import adapter
from accounts.forms import ProfileForm
from accounts.models import Profile


@login_required
def account(request: HttpRequest) -> HttpResponse:
    profile = Profile.for_user(request.user)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile was saved.")
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
