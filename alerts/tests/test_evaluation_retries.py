"""A batch's evaluation outlives a database outage by retrying (alerts.tasks)."""

from celery.utils.time import get_exponential_backoff_interval

from alerts.tasks import evaluate_alerts


def retry_delays(task) -> list[int]:
    """The countdowns Celery's autoretry gives the task, one per retry."""
    return [
        get_exponential_backoff_interval(
            factor=int(task.retry_backoff),
            retries=attempt,
            maximum=task.retry_backoff_max,
            full_jitter=task.retry_jitter,
        )
        for attempt in range(task.max_retries)
    ]


def test_the_retries_of_an_evaluation_cover_a_database_restart_of_two_minutes():
    assert sum(retry_delays(evaluate_alerts)) >= 120


def test_no_retry_of_an_evaluation_waits_more_than_a_minute():
    assert max(retry_delays(evaluate_alerts)) <= 60


def test_the_retry_delays_are_not_jittered_towards_zero():
    assert evaluate_alerts.retry_jitter is False
