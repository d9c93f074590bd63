"""Celery tasks of notifications: thin wrappers over notifications.delivery."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from notifications import delivery


@shared_task
def deliver_notification(delivery_id: int) -> str | None:
    """Send one Delivery (enqueued on commit by notifications.outbox)."""
    return delivery.deliver(delivery_id)


@shared_task
def deliver_notifications(delivery_ids: list[int]) -> None:
    """Send a chunk of a large burst (see outbox.ENQUEUE_CHUNK)."""
    delivery.deliver_many(delivery_ids)


@shared_task
def sweep_deliveries() -> dict:
    """Beat, every 30 s: re-enqueue deliveries whose task or worker was lost."""
    return asdict(delivery.sweep())
