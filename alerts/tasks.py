"""Celery tasks of the alerts app: thin wrappers around alerts.evaluation and the model."""

import logging

from celery import shared_task
from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from alerts import metrics
from alerts.evaluation import evaluate_batch
from alerts.models import Alert, Status

logger = logging.getLogger(__name__)


# A retry is safe: claims are conditional, so alerts fired by the failed
# attempt's committed work (none, it rolled back) or by a concurrent run are
# never fired twice. The retries outlast a PostgreSQL restart or failover
# (2, 4, … 60 s, about 4 minutes in all; no jitter, which could make them all
# short): with three jittered ones a 10 s outage lost the batch, and later
# polls bring no new price to fire its alerts (the cluster's chaos run).
@shared_task(
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=False,
    max_retries=8,
)
def evaluate_alerts(batch: list[dict]) -> int:
    """Evaluate alerts for one price batch; return how many fired.

    `batch` items: {"coin_id": int, "tick_id": int, "price": str,
    "previous_price": str | None, "time": ISO-8601 str}.
    """
    fired = len(evaluate_batch(batch))
    logger.info(
        "Evaluated a batch of %d coins: %d fired", len(batch), fired, extra={"fired": fired}
    )
    return fired


@shared_task
def expire_alerts() -> int:
    """Mark active and paused alerts past their expiry as expired, in one UPDATE.

    Each keeps the status it expired from (the SET reads the old row), so an
    edit that revives it brings a paused alert back paused.
    """
    now = timezone.now()
    return Alert.objects.filter(
        status__in=[Status.ACTIVE, Status.PAUSED], expires_at__isnull=False, expires_at__lte=now
    ).update(status=Status.EXPIRED, expired_from=F("status"), updated_at=now)


@shared_task
def count_active_alerts() -> int:
    """Beat, every alerts.metrics.COUNT_EVERY_SECONDS: the active alerts per coin
    and condition, for the metrics (evaluation never counts them itself)."""
    return sum(sum(per_coin.values()) for per_coin in metrics.count_active_alerts().values())
