"""What we keep about a user beyond django.contrib.auth: a profile and API tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from allauth.core import context
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    # Where alert emails go once its owner has confirmed it (alert_email);
    # blank means the account's own email address.
    notification_email = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        if self.notification_email:
            # Every way of setting the address (both settings pages, the API,
            # the admin) asks its owner to confirm it, after the commit.
            user, email, request = self.user, self.notification_email, context.request
            transaction.on_commit(lambda: ask_to_confirm(user, email, request), robust=True)

    @classmethod
    def for_user(cls, user) -> Profile:
        profile, _ = cls.objects.get_or_create(user=user)
        return profile

    @property
    def alert_email(self) -> str:
        """Where alert emails go: only ever an address the user has confirmed.

        The notification address once confirmed, else the account's address
        once confirmed, else nowhere (""): mail to an address nobody proved
        is theirs would let anyone flood a stranger's inbox with alerts.
        """
        confirmed = verified_addresses(self.user)
        for address in (self.notification_email, self.user.email):
            if address and address.lower() in confirmed:
                return address
        return ""

    @property
    def notification_email_unconfirmed(self) -> bool:
        """A notification address is set that its owner has not confirmed yet."""
        return bool(self.notification_email) and (
            self.notification_email.lower() not in verified_addresses(self.user)
        )


def verified_addresses(user) -> set[str]:
    """The user's confirmed email addresses (allauth's EmailAddress), lower-cased."""
    emails = EmailAddress.objects.filter(user_id=user.pk, verified=True).values_list(
        "email", flat=True
    )
    return {email.lower() for email in emails}


def ask_to_confirm(user, email: str, request) -> None:
    """Add `email` to the user's addresses and send allauth's confirmation link, once.

    Once per address and user: an address already listed (confirmed or not)
    gets nothing new here; the Email addresses page re-sends, within
    allauth's `confirm_email` rate limit, which also caps this one. Outside
    a request (a shell) the address is added without mail, for that page.
    """
    if EmailAddress.objects.filter(user_id=user.pk, email__iexact=email).exists():
        return
    if user.email and user.email.lower() != email.lower():
        # allauth makes a confirmed address primary (and the account's
        # address) when the user has no primary one, as accounts made by
        # createsuperuser have not: keep the account's address primary.
        keep_account_address_primary(user)
    if request is not None:
        # allauth's request (its middleware's) builds the link and counts the
        # rate; its mail reads it from its context, which a commit after the
        # request (a test's) no longer has.
        with context.request_context(request):
            EmailAddress.objects.add_email(request, user, email, confirm=True)
    else:
        EmailAddress.objects.add_email(None, user, email, confirm=False)
        logger.info("Added %s to user %s unconfirmed; no request to send the link", email, user.pk)


def keep_account_address_primary(user) -> None:
    if EmailAddress.objects.filter(user_id=user.pk, primary=True).exists():
        return
    address = EmailAddress.objects.filter(user_id=user.pk, email__iexact=user.email).first()
    if address is None:
        EmailAddress.objects.create(user=user, email=user.email.lower(), primary=True)
    else:
        address.primary = True
        address.save(update_fields=["primary"])


def api_tokens_need_confirmation(user) -> bool:
    """Whether the user must confirm the account's address before getting API tokens."""
    if not settings.API_TOKENS_REQUIRE_VERIFIED_EMAIL:
        return False
    confirmed = verified_addresses(user)
    # An account without an address needs some confirmed one.
    return user.email.lower() not in confirmed if user.email else not confirmed


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def revoke(self) -> int:
        """Revoke the active tokens among these; return how many."""
        return self.active().update(revoked_at=timezone.now())


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored: the key is shown once."""

    PREFIX_LENGTH = 8
    # Record use at most this often: a script polling every second must not
    # turn every read into a write.
    USE_PRECISION = timedelta(minutes=1)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str) -> tuple[ApiToken, str]:
        """Create a token; return it with the plain key, which is never stored."""
        key = secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, prefix=key[: cls.PREFIX_LENGTH], key_hash=cls.hash_key(key)
        )
        return token, key

    @classmethod
    def authenticate(cls, key: str) -> ApiToken | None:
        """The token with this key, if it is not revoked and its user is active."""
        token = (
            cls.objects.active().select_related("user").filter(key_hash=cls.hash_key(key)).first()
        )
        if token is None or not token.user.is_active:
            return None
        return token

    def record_use(self) -> None:
        """Set last_used_at now, at most once a minute (one conditional UPDATE)."""
        now = timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < self.USE_PRECISION:
            return
        ApiToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - self.USE_PRECISION), pk=self.pk
        ).update(last_used_at=now)
        self.last_used_at = now

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
