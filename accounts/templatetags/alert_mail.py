"""{% alert_email_banner %}: on every page (templates/base.html), tell a signed-in user
whose alert mail has nowhere to go (no confirmed address: Profile.alert_email) and
offer the link. Accounts made before alert mail needed a confirmed address
(ACCOUNT_EMAIL_VERIFICATION=optional) would otherwise lose every alert email silently.
"""

from __future__ import annotations

from django import template

from accounts.models import Profile

register = template.Library()


@register.inclusion_tag("accounts/alert_email_banner.html", takes_context=True)
def alert_email_banner(context) -> dict:
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return {"show": False}
    profile = Profile.objects.select_related("user").filter(user=user).first() or Profile(user=user)
    return {
        "show": not profile.alert_email,
        "profile": profile,
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
