"""Celery tasks of summaries: thin wrappers over summaries.sending."""

from __future__ import annotations

from celery import shared_task

from summaries import sending


@shared_task
def send_due_summaries() -> int:
    """Beat, every minute: claim the summaries due and write their deliveries."""
    return sending.send_due_summaries()
