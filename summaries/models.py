"""Scheduled summaries: a user's schedules, and one row per occurrence sent (the claim)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import Profile
from alerts.models import default_channels, validate_channels
from common.delivery_channels import Channel
from common.user_caps import hold_cap_lock
from notifications.models import web_push_problems
from summaries import timing


class Days(models.TextChoices):
    DAILY = "daily", "Every day"
    WEEKDAYS = "weekdays", "Weekdays (Monday to Friday)"


# What the owner sets, through the form or the API; the rest is ours.
OWNER_FIELDS = ("time_of_day", "days", "channels", "enabled")


class SummaryScheduleQuerySet(models.QuerySet):
    def due(self, now: datetime) -> dict[int, datetime]:
        """The enabled schedules of active users with an occurrence due at `now`: {id: time}.

        Sent or not: the claim decides. This runs every minute over every
        schedule, so it reads five columns and makes no model instances
        (bench/summaries.py: 10k schedules in about a tenth of the time).
        """
        grace = timedelta(minutes=settings.SUMMARIES_CATCH_UP_MINUTES)
        rows = self.filter(enabled=True, user__is_active=True).values_list(
            "pk", "time_of_day", "days", "due_from", "user__profile__time_zone"
        )
        found = {}
        for pk, at, days, due_from, zone_name in rows.iterator(chunk_size=5000):
            zone = timing.zone_named(zone_name or "")
            instant = timing.latest_due(at, days == Days.WEEKDAYS, zone, now, grace, due_from)
            if instant is not None:
                found[pk] = instant
        return found


class SummarySchedule(models.Model):
    """A user's request for a summary of their watchlist and alerts at a time of day.

    The time is local to the user's time zone (accounts.Profile.time_zone),
    read when the summary is due: a user who changes zone gets it at the
    same local time in the new one.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="summary_schedules"
    )
    # Hours and minutes; seconds are dropped on save.
    time_of_day = models.TimeField()
    days = models.CharField(max_length=10, choices=Days.choices, default=Days.DAILY)
    channels = models.JSONField(
        default=default_channels,
        validators=[validate_channels],
        error_messages={"blank": "Choose at least one channel."},
    )
    enabled = models.BooleanField(default=True)
    # No occurrence before this time is sent: a schedule created, changed or
    # turned on after its time today does not catch up on it (timing.latest_due).
    due_from = models.DateTimeField(default=timezone.now, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SummaryScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["time_of_day", "pk"]

    def __str__(self) -> str:
        return f"{self.describe()} for {self.user}"

    def save(self, *args, **kwargs) -> None:
        if isinstance(self.time_of_day, time):  # else a string the field parses
            self.time_of_day = self.time_of_day.replace(second=0, microsecond=0)
        super().save(*args, **kwargs)

    def save_edit(self) -> None:
        """Save the owner's changes; from now on only later occurrences are due.

        A new schedule is counted against the cap again under the user's cap
        lock (common.user_caps), so two created at once cannot both pass it:
        ValidationError for the second.
        """
        self.due_from = timezone.now()
        with transaction.atomic():
            if self.pk is None and self.user_id is not None:
                hold_cap_lock("summaries.schedules", self.user_id)
                for field, message in self._check_cap():
                    raise ValidationError({field: [message]})
            self.save()

    def describe(self) -> str:
        """E.g. "Weekdays at 08:00"."""
        days = "Every day" if self.days == Days.DAILY else "Weekdays"
        return f"{days} at {self.time_of_day:%H:%M}"

    def channel_labels(self) -> list[str]:
        return [Channel(channel).label for channel in self.channels]

    def zone(self) -> ZoneInfo:
        """The owner's time zone now (a profile loaded with the user is used)."""
        try:
            name = self.user.profile.time_zone
        except Profile.DoesNotExist:
            name = ""
        return timing.zone_named(name)

    @property
    def weekdays_only(self) -> bool:
        return self.days == Days.WEEKDAYS

    def next_at(self, now: datetime | None = None) -> datetime | None:
        """When the next summary is due (UTC); None while the schedule is off."""
        if not self.enabled:
            return None
        now = now or timezone.now()
        return timing.next_after(self.time_of_day, self.weekdays_only, self.zone(), now)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        for field, message in (*self._check_cap(), *self._check_push_enabled()):
            errors.setdefault(field, []).append(message)
        if errors:
            raise ValidationError(errors)

    def _check_cap(self) -> list[tuple[str, str]]:
        if self.pk is not None or self.user_id is None:
            return []
        cap = settings.SUMMARIES_MAX_PER_USER
        if SummarySchedule.objects.filter(user_id=self.user_id).count() < cap:
            return []
        return [(NON_FIELD_ERRORS, f"You already have {cap} summaries, the most allowed.")]

    def _check_push_enabled(self) -> list[tuple[str, str]]:
        return web_push_problems(self.user_id, self.channels)


# One statement is the claim: of two workers inserting the same occurrence,
# PostgreSQL makes the second wait for the first to commit (or roll back),
# then skips its row (ON CONFLICT DO NOTHING), so it gets no id back and
# writes nothing. The content comes after, in the claimant's transaction.
CLAIM_SQL = """
INSERT INTO summaries_summaryoccurrence (schedule_id, scheduled_for, content, created_at)
VALUES (%s, %s, '{}'::jsonb, statement_timestamp())
ON CONFLICT (schedule_id, scheduled_for) DO NOTHING
RETURNING id, created_at
"""


class SummaryOccurrenceQuerySet(models.QuerySet):
    def claim(self, schedule: SummarySchedule, scheduled_for: datetime) -> SummaryOccurrence | None:
        """Insert the occurrence; None if another worker already has (or just did).

        Call inside the transaction that writes its content and deliveries,
        so all exist together or not at all.
        """
        with connection.cursor() as cursor:
            cursor.execute(CLAIM_SQL, [schedule.pk, scheduled_for])
            row = cursor.fetchone()
        if row is None:
            return None
        return SummaryOccurrence(
            pk=row[0], schedule=schedule, scheduled_for=scheduled_for, content={}, created_at=row[1]
        )


class SummaryOccurrence(models.Model):
    """One summary sent (or being sent) for one scheduled time: the claim.

    Unique per schedule and time: the worker that inserts it writes its
    deliveries (notifications.outbox) in the same transaction; any other
    finds the row and does nothing. `content` is what every channel says,
    written once (notifications.notices reads it), so a retry days later
    says what the first attempt said.
    """

    # No index of its own: the unique constraint's index leads with it.
    schedule = models.ForeignKey(
        SummarySchedule, on_delete=models.CASCADE, related_name="occurrences", db_index=False
    )
    scheduled_for = models.DateTimeField()
    content = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SummaryOccurrenceQuerySet.as_manager()

    class Meta:
        ordering = ["-scheduled_for"]
        constraints = [
            # The claim (CLAIM_SQL's ON CONFLICT names these columns).
            models.UniqueConstraint(
                fields=["schedule", "scheduled_for"], name="summaryoccurrence_once"
            )
        ]

    def __str__(self) -> str:
        when = f"{self.scheduled_for:%Y-%m-%d %H:%M} UTC"
        return f"Summary {self.pk} of schedule {self.schedule_id} for {when}"
