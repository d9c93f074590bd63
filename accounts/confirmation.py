"""Confirming a notification address: a signed link of ours, mailed to that address.

The confirmation is the profile's own (Profile.confirmed_notification_email),
never an allauth EmailAddress: those log in, receive password resets and make
an address taken at sign-up, so confirming a shared mailbox would have handed
it the account, and setting a stranger's address would have blocked their
sign-up. The link signs the user id and the address (django.core.signing,
salted, valid LINK_MAX_AGE), so a link for an old address confirms nothing
once the address changed. The mail names no account: whoever set the address
may be a stranger to its owner.

Mail goes only when a person asks (the settings pages, PATCH /api/v1/me/, the
admin's action), never from Profile.save(): a shell, a fixture or a data
migration saving a profile mails nobody.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from allauth.core import ratelimit
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Profile

logger = logging.getLogger(__name__)

SALT = "accounts.confirmation.notification-email"
LINK_MAX_AGE = timedelta(days=3)
# allauth's `confirm_email` rate (ACCOUNT_RATE_LIMITS, one mail per address
# every 3 minutes), counted apart from allauth's own confirmation mails so
# that setting a stranger's address cannot hold back their sign-up mail.
RATE_KEY_PREFIX = "notification-email:"


class InvalidLink(Exception):
    """The link is forged, expired, or for an address no longer set; str() says which."""


def link_for(profile: Profile) -> str:
    """The absolute confirmation link for the profile's current notification address."""
    token = signing.TimestampSigner(salt=SALT).sign_object(
        {"user": profile.user_id, "email": profile.notification_email.lower()}
    )
    return settings.SITE_URL + reverse("accounts:confirm-notification-email", args=[token])


def address_in(token: str) -> tuple[int, str]:
    """The (user id, address) a link signs, or InvalidLink."""
    try:
        data = signing.TimestampSigner(salt=SALT).unsign_object(
            token, max_age=LINK_MAX_AGE.total_seconds()
        )
    except signing.SignatureExpired:
        raise InvalidLink(
            "This link has expired. Ask for a new one where the address was set."
        ) from None
    except signing.BadSignature:
        raise InvalidLink("This link is not valid. Copy it whole from the mail.") from None
    return data["user"], data["email"]


def confirm(token: str) -> Profile:
    """Confirm the address the link was mailed to, if it is still the notification address."""
    user_id, address = address_in(token)
    profile = Profile.objects.filter(user_id=user_id).first()
    if profile is None or profile.notification_email.lower() != address:
        raise InvalidLink(
            "This link is for an address that is no longer set for alerts; nothing was changed."
        )
    profile.confirmed_notification_email = profile.notification_email
    profile.save(update_fields=["confirmed_notification_email"])
    return profile


def send_link(request: HttpRequest, profile: Profile) -> bool:
    """Mail the link to the profile's unconfirmed notification address; whether it went.

    False when there is nothing to confirm, when the address had a link in the
    last few minutes (the rate above), or when the mail server refused it.
    """
    if not profile.notification_email_unconfirmed:
        return False
    address = profile.notification_email
    if not ratelimit.consume(
        request, action="confirm_email", key=RATE_KEY_PREFIX + address.lower()
    ):
        return False
    context = {"address": address, "link": link_for(profile), "days": LINK_MAX_AGE.days}
    try:
        send_mail(
            render_to_string("accounts/email/notification_email_subject.txt", context).strip(),
            render_to_string("accounts/email/notification_email_message.txt", context),
            None,
            [address],
        )
    except (smtplib.SMTPException, OSError):
        logger.exception("Could not mail the confirmation link of user %s", profile.user_id)
        return False
    return True


def ask_to_confirm(request: HttpRequest, profile: Profile) -> None:
    """send_link() for a page, telling the user what happened in a message."""
    if not profile.notification_email_unconfirmed:
        return
    address = profile.notification_email
    if send_link(request, profile):
        messages.info(
            request,
            f"We mailed a confirmation link to {address}; alert emails go there "
            "once it is followed.",
        )
    else:
        messages.warning(
            request,
            f"No new link was mailed to {address}: one went there in the last few minutes "
            "(or the mail server refused it). Try again shortly.",
        )
