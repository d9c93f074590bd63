"""The Celery app: configured from Django settings (CELERY_*), tasks found per app."""

import logging
import logging.config
import os

from celery import Celery
from celery.signals import (
    beat_init,
    setup_logging,
    worker_init,
    worker_process_shutdown,
)
from django.conf import settings
from django_structlog.celery.steps import DjangoStructLogInitStep

from common.process_metrics import mark_process_dead, start_exporter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptomonitor.settings")

app = Celery("cryptomonitor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# task_id on every line of a task, and the context its sender had bound
# (request_id, poll_id), from the task's headers.
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def use_the_django_logging(loglevel: int | str | None = None, **kwargs) -> None:
    """Worker and beat lines go through settings.LOGGING's formatter, like Django's.

    The command's `-l` sets the level unless LOG_LEVEL does (it wins everywhere).
    """
    logging.config.dictConfig(settings.LOGGING)
    if loglevel and not os.environ.get("LOG_LEVEL"):
        logging.getLogger().setLevel(loglevel)


# Metrics (docs/metrics.md): the Celery containers serve no HTTP, so their
# main process exports the container's series on METRICS_PORT.
@worker_init.connect
@beat_init.connect
def start_metrics_exporter(**kwargs) -> None:
    start_exporter()


@worker_process_shutdown.connect
def forget_dead_pool_process(pid: int, **kwargs) -> None:
    """A pool process leaves through os._exit, past atexit: its live gauges go here."""
    mark_process_dead(pid)
