"""GET /metrics: every process's Prometheus series plus the scrape-time gauges.

docs/metrics.md lists the metrics. Access: with METRICS_TOKEN set, only
`Authorization: Bearer <token>`; without it, only loopback callers that came
through no proxy. With PROMETHEUS_MULTIPROC_DIR set (make run, each Docker
container) prometheus_client's multiprocess mode merges the files every
process of the host writes there; without it (tests, a shell) this process's
own registry is served. Celery processes have no HTTP server of their own: with
METRICS_PORT set they serve their directory's series through
start_exporter(), from cryptomonitor.celery's worker_init and beat_init.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from alerts.metrics import ActiveAlertsCollector
from common.process_metrics import metrics_registry
from notifications.metrics import OutboxCollector
from prices.metrics import FeedCollector

logger = logging.getLogger(__name__)

# The gauges computed from PostgreSQL and Redis when /metrics is served.
SCRAPE_TIME_COLLECTORS: tuple[type[Collector], ...] = (
    FeedCollector,
    ActiveAlertsCollector,
    OutboxCollector,
)


class _Guarded(Collector):
    """A scrape-time collector whose failure (database down) costs only its own
    gauges: the processes' series are still served."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def collect(self) -> Iterable[Metric]:
        try:
            return list(self.collector.collect())
        except Exception:
            logger.exception("%s failed; its gauges are left out", type(self.collector).__name__)
            return []


class _Chained(Collector):
    """Another registry's series, in a registry of our own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return self.registry.collect()


def scrape_registry() -> CollectorRegistry:
    """What /metrics serves: the processes' series and the scrape-time gauges."""
    registry = CollectorRegistry()
    registry.register(_Chained(metrics_registry()))
    for collector in SCRAPE_TIME_COLLECTORS:
        registry.register(_Guarded(collector()))
    return registry


class MetricsEndpointMiddleware:
    """GET /metrics, answered first in MIDDLEWARE: before the Host check and the
    HTTPS redirect, which Prometheus scraping a container by address over the
    internal network cannot pass, and unlogged (a scrape every few seconds)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/metrics":
            return metrics_view(request)
        return self.get_response(request)


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


# Headers a proxy adds to say whom it forwards for.
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the caller may read /metrics, else the answer it gets."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            response = HttpResponse("A bearer token is required.\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            logger.warning(
                "/metrics refused a wrong token from %s", request.META.get("REMOTE_ADDR")
            )
            return HttpResponse("Wrong token.\n", status=403)
        return None
    # A proxy on this host would make every visitor look local: whatever came
    # through one is refused, and so is everything when the settings say a
    # proxy stands in front (it may set none of these headers).
    forwarded = any(request.META.get(header) for header in FORWARDING_HEADERS)
    if (
        _is_loopback(request.META.get("REMOTE_ADDR", ""))
        and not forwarded
        and not settings.TRUSTED_PROXY_COUNT
    ):
        return None
    return HttpResponse(
        "Only local callers may read /metrics; set METRICS_TOKEN to allow others.\n",
        status=403,
    )


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback
