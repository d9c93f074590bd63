"""Reading Prometheus samples in tests: this process's registry, or a /metrics text."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families


def metric_value(name: str, labels: Mapping[str, str] | None = None, text: str = "") -> float:
    """The sample `name` whose labels include `labels`, 0 when absent.

    From `text` (an exposition, e.g. a /metrics body) when given, else from
    this process's default registry (no PROMETHEUS_MULTIPROC_DIR in tests).
    """
    text = text or generate_latest(REGISTRY).decode()
    wanted = dict(labels or {})
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and wanted.items() <= sample.labels.items():
                return sample.value
    return 0.0
