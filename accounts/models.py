"""What we keep about a user beyond django.contrib.auth: a profile and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.signals import token_revoked
from common.display_currencies import base_currency, validate_display_currency


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    # Where alert emails go once its owner has confirmed it (alert_email);
    # blank means the account's own email address.
    notification_email = models.EmailField(blank=True)
    # The notification address as it was when a signed link mailed to it was
    # followed (accounts.confirmation). The confirmation is the profile's own,
    # never an allauth EmailAddress (which logs in and gets password resets),
    # and changing notification_email un-confirms it without anyone clearing it.
    confirmed_notification_email = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    # What pages show prices in (one of DISPLAY_CURRENCIES): converted on read
    # from the base with prices.currencies; UserPreferencesMiddleware puts it
    # on each request as `request.display_currency`.
    display_currency = models.CharField(
        max_length=10, default=base_currency, validators=[validate_display_currency]
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"

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
        if self.notification_email_confirmed:
            return self.notification_email
        if self.user.email and self.user.email.lower() in verified_addresses(self.user):
            return self.user.email
        return ""

    @property
    def notification_email_confirmed(self) -> bool:
        """A notification address is set and its link was followed."""
        return bool(self.notification_email) and (
            self.notification_email.lower() == self.confirmed_notification_email.lower()
        )

    @property
    def notification_email_unconfirmed(self) -> bool:
        """A notification address is set that its owner has not confirmed yet."""
        return bool(self.notification_email) and not self.notification_email_confirmed


def verified_addresses(user) -> set[str]:
    """The user's confirmed account addresses (allauth's EmailAddress), lower-cased."""
    emails = EmailAddress.objects.filter(user_id=user.pk, verified=True).values_list(
        "email", flat=True
    )
    return {email.lower() for email in emails}


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
        # get(), not first(): the key hash is unique, so no ORDER BY to compile.
        try:
            token = cls.objects.active().select_related("user").get(key_hash=cls.hash_key(key))
        except cls.DoesNotExist:
            return None
        return token if token.user.is_active else None

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
        """Revoke this token; once that commits, the sockets it opened close."""
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
        # After the commit: a socket told earlier could authenticate again
        # with the key while the revocation is not yet visible.
        transaction.on_commit(
            lambda: token_revoked.send(sender=ApiToken, token_id=self.pk), robust=True
        )
