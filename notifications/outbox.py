"""The outbox: one Delivery row per channel, written with the event or summary that needs it."""

from __future__ import annotations

from collections.abc import Iterable

from celery import current_app
from django.db import models, transaction

from notifications.models import Delivery, DeliveryStatus


def record_deliveries(event: models.Model, channels: list[str]) -> list[Delivery]:
    """Write the deliveries of `event` (an AlertEvent); enqueue their tasks once it commits.

    Call inside the transaction that claims the alert, so the event and its
    deliveries exist together or not at all. A task lost after the commit is
    picked up by the sweeper (notifications.tasks.sweep_deliveries).
    """
    return record_deliveries_for_events([(event, channels)])


def record_deliveries_for_events(
    events: Iterable[tuple[models.Model, list[str]]],
) -> list[Delivery]:
    """record_deliveries() for many events in one INSERT.

    A price batch can fire a thousand alerts at once (alerts.evaluation); one
    statement instead of one per event keeps the claiming transaction short.
    """
    deliveries = Delivery.objects.bulk_create(
        Delivery(user_id=event.alert.user_id, event=event, channel=channel)
        for event, channels in events
        for channel in dict.fromkeys(channels)
    )
    enqueue_on_commit([delivery.pk for delivery in deliveries])
    return deliveries


def record_summary_deliveries(summary: models.Model, channels: list[str]) -> list[Delivery]:
    """Write the deliveries of `summary` (a summaries.SummaryOccurrence); enqueue on commit.

    Call inside the transaction that claims the occurrence, as for an event:
    retries, leases, the sweeper and the metrics then treat its rows as any.
    """
    deliveries = Delivery.objects.bulk_create(
        Delivery(user_id=summary.schedule.user_id, summary=summary, channel=channel)
        for channel in dict.fromkeys(channels)
    )
    enqueue_on_commit([delivery.pk for delivery in deliveries])
    return deliveries


# The set-based twin of record_deliveries_for_events, for callers that write
# their events in SQL (alerts.evaluation on PostgreSQL, a data-modifying CTE):
# one pending Delivery per distinct channel, in the channels' order, for every
# row of the relation `{source}` (event_id, user_id, channels as JSONB). The
# columns left out stay NULL and the rest get Delivery's field defaults, as
# Delivery(...) gives them (alerts/tests/test_firing_sql.py compares the two).
# created_at/updated_at: the statement's time, where auto_now takes Python's.
# Only constants are formatted in; values are parameters.
DELIVERIES_INSERT_SQL = f"""
INSERT INTO notifications_delivery
    (user_id, event_id, channel, status, attempts, last_error, claim_token,
     created_at, updated_at)
SELECT s.user_id, s.event_id, channel.name, '{DeliveryStatus.PENDING}', 0, '', '',
    statement_timestamp(), statement_timestamp()
FROM {{source}} s CROSS JOIN LATERAL (
    SELECT name, min(position) AS position
    FROM jsonb_array_elements_text(s.channels) WITH ORDINALITY AS c(name, position)
    GROUP BY name
) channel
ORDER BY s.event_id, channel.position
RETURNING id, event_id
"""  # noqa: S608


def enqueue_on_commit(delivery_ids: list[int]) -> None:
    """Enqueue the deliveries' tasks once the transaction that wrote them commits.

    Nothing is sent for a rolled-back event; a task lost after the commit is
    picked up by the sweeper (notifications.tasks.sweep_deliveries).
    """
    if delivery_ids:
        transaction.on_commit(lambda: _enqueue(delivery_ids))


# Above this many deliveries, one task carries a chunk of them: a burst of
# 10,000 would otherwise cost 10,000 broker round trips after the commit
# (profiled: 80 % of a 2,000-alert batch's time). A chunk claims its rows in
# one conditional UPDATE, so each is still sent by exactly one worker, and a
# worker dying mid-chunk leaves the rest to the sweeper.
ENQUEUE_CHUNK = 25
# The tasks, by name: notifications.tasks wraps delivery, which enqueues
# through here, so importing them would be a cycle. NotificationsConfig.ready
# registers them in every process, so CELERY_TASK_ALWAYS_EAGER still applies.
DELIVER_ONE = "notifications.tasks.deliver_notification"
DELIVER_CHUNK = "notifications.tasks.deliver_notifications"


def _enqueue(delivery_ids: list[int]) -> None:
    enqueue_deliveries(delivery_ids)


def enqueue_deliveries(delivery_ids: list[int]) -> None:
    """Queue delivery tasks: one per row for a few rows, chunks for a burst.

    All through one producer (one broker connection from Celery's pool):
    measured 10-20 % less CPU than a .delay() per message at 80 messages.
    """
    with current_app.producer_or_acquire() as producer:
        if len(delivery_ids) <= ENQUEUE_CHUNK:
            for delivery_id in delivery_ids:
                current_app.signature(DELIVER_ONE, args=(delivery_id,)).apply_async(
                    producer=producer
                )
            return
        for start in range(0, len(delivery_ids), ENQUEUE_CHUNK):
            chunk = delivery_ids[start : start + ENQUEUE_CHUNK]
            current_app.signature(DELIVER_CHUNK, args=(chunk,)).apply_async(producer=producer)
