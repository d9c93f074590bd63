"""Celery tasks of the price pipeline: thin wrappers around the services."""

from celery import shared_task

from prices.exchange_rates import refresh_exchange_rates
from prices.history import purge_expired_prices
from prices.logos import LOGOS_PER_TASK, refresh_done, refresh_logos
from prices.polling import LOCK_SECONDS, poll_once


# The hard limit equals the poll lock's lifetime: a stuck poll is killed
# before its lock could outlive it, so polls never pile up.
@shared_task(soft_time_limit=LOCK_SECONDS - 15, time_limit=LOCK_SECONDS)
def poll_prices() -> str:
    # Spaced: a second beat's sends within the interval are skipped.
    return poll_once(spaced=True).summary()


# One request, bounded by the client's timeout and retries.
@shared_task(soft_time_limit=45, time_limit=60)
def fetch_exchange_rates() -> str:
    return refresh_exchange_rates().summary()


@shared_task(soft_time_limit=1800, time_limit=1900)
def purge_old_ticks() -> dict:
    report = purge_expired_prices()
    return {"ticks": report.ticks, "minute_rollups": report.minute_rollups}


# Each download is bounded (COIN_LOGO_TIMEOUT_SECONDS); the limits only stop
# a refresh of very many new coins from holding a worker for long.
@shared_task(soft_time_limit=540, time_limit=600)
def fetch_coin_logos() -> dict:
    try:
        outcome = refresh_logos(limit=LOGOS_PER_TASK)
    finally:
        refresh_done()
    return {"stored": len(outcome.stored), "failed": len(outcome.failed)}
