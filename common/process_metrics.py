"""Prometheus multiprocess mode: the series every process of a host keeps (docs/metrics.md).

With PROMETHEUS_MULTIPROC_DIR set (`make run`, each Docker container),
prometheus_client writes each process's values to files there and
metrics_registry() merges them; without it (tests, a shell) a process serves
its own default registry. Celery containers have no HTTP server: with
METRICS_PORT set, start_exporter() serves their directory from the worker's
or beat's main process (cryptomonitor.celery).

No model is read here, so the Celery wiring imports it before Django's apps
are ready.
"""

from __future__ import annotations

import atexit
import logging
import os

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

logger = logging.getLogger(__name__)


def multiprocess_dir() -> str | None:
    return settings.PROMETHEUS_MULTIPROC_DIR or None


def metrics_registry() -> CollectorRegistry:
    """The series the processes keep: every process of this host's in
    multiprocess mode, else this process's own (the default registry)."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return registry


def start_exporter() -> bool:
    """Serve this host's multiprocess series on METRICS_PORT; False when unset.

    Only the processes' own series: the scrape-time gauges (feed, backlog,
    active alerts, queues) come from the web server's /metrics.
    """
    port = settings.METRICS_PORT
    if port is None:
        return False
    path = multiprocess_dir()
    if path is None:
        logger.warning("METRICS_PORT is set without PROMETHEUS_MULTIPROC_DIR; no exporter")
        return False
    # No token here: METRICS_ADDR is loopback unless only a private network
    # (compose's) reaches the container.
    start_http_server(port, addr=settings.METRICS_ADDR, registry=metrics_registry())
    logger.info("Serving the metrics of %s on %s:%s", path, settings.METRICS_ADDR, port)
    return True


def mark_process_dead(pid: int) -> None:
    """Drop a dead process's live gauges (open WebSockets) from the sums; counters stay."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(pid, path)


def _mark_this_process_dead() -> None:
    if settings.configured:
        mark_process_dead(os.getpid())


# Every process that keeps metrics imports this module (the apps' metrics do):
# each marks itself dead when it exits normally. Celery's pool children leave
# through os._exit, so worker_process_shutdown marks them (cryptomonitor.celery).
atexit.register(_mark_this_process_dead)
