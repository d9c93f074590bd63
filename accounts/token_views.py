"""Pages where users create, list and revoke their personal API tokens."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import ApiToken, api_tokens_need_confirmation

REVOKED_SHOWN = 20


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What the token is for, e.g. “backup script”.",
    )


@never_cache
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """GET: the user's tokens; POST: create one and show its key this once.

    Only once the account's email address is confirmed (the same rule as
    POST /api/v1/auth/token/): until then the page says how to confirm it.
    """
    need_confirmation = api_tokens_need_confirmation(request.user)
    form = TokenForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST" and need_confirmation:
        status = 403
    elif request.method == "POST" and form.is_valid():
        _, new_key = ApiToken.issue(request.user, form.cleaned_data["name"])
        form = TokenForm()
    elif form.errors:
        status = 400
    revoked = ApiToken.objects.filter(user=request.user, revoked_at__isnull=False)
    context = {
        "form": form,
        "tokens": ApiToken.objects.active().filter(user=request.user),
        # The latest: a script that stopped working finds why (and when).
        "revoked_tokens": revoked.order_by("-revoked_at")[:REVOKED_SHOWN],
        "new_key": new_key,
        "need_confirmation": need_confirmation,
    }
    return render(request, "accounts/tokens.html", context, status=status)


@require_POST
@login_required
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.active(), pk=pk, user=request.user)
    token.revoke()
    messages.success(request, f"The token “{token.name}” was revoked.")
    return redirect("accounts:tokens")
