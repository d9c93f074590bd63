"""What alerts does when the apps below it announce something."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from alerts.tasks import evaluate_alerts
from prices.hooks import live_batch_committed

logger = logging.getLogger(__name__)


@receiver(live_batch_committed, dispatch_uid="alerts.evaluate_committed_batch")
def evaluate_committed_batch(sender, batch: list[dict], **kwargs) -> None:
    """Enqueue the batch's evaluation; evaluate it here when the broker refuses it."""
    try:
        evaluate_alerts.delay(batch)
    except Exception:
        # The ticks are committed: a broker hiccup must not lose this batch's
        # triggers, so evaluate here instead. Deliveries it cannot enqueue
        # wait in the outbox for the sweeper.
        logger.exception(
            "Could not enqueue alert evaluation for %d coins; evaluating in this process",
            len(batch),
        )
        try:
            evaluate_alerts(batch)
        except Exception:
            logger.exception("Alert evaluation failed for %d coins", len(batch))
