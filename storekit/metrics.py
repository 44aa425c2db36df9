"""Operational signals: Prometheus metrics of a storekit process and of the shared catalog.

``Metrics`` is an event subscriber (``Storekit.subscribers``): it times operations and counts
engine failures, interrupted runs, repairs and drift as this process sees them. At scrape
time it also reads the catalog, which every replica and worker shares: jobs by kind and
state, the queue's depth and the age of its oldest job, stores by status. So one replica's
``/metrics`` tells the whole platform's backlog, and each process its own work.

Labels are low-cardinality on purpose (operation, outcome, status, kind): never a store name.
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .events import DriftChecked, Event, OperationFinished, Recovered

disable_created_metrics()  # no *_created series: counters start with the process anyway
CONTENT_TYPE = CONTENT_TYPE_LATEST
BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)


class _CatalogCollector:
    """Reads the catalog at each scrape (jobs, queue, stores)."""

    def __init__(self, catalog: Callable):
        self._catalog = catalog

    def collect(self):
        figures = self._catalog().figures()
        jobs = GaugeMetricFamily("storekit_jobs", "Jobs in the catalog, by kind and state.",
                                 labels=["kind", "state"])
        for (kind, state), count in sorted(figures["jobs"].items()):
            jobs.add_metric([kind, state], count)
        yield jobs
        yield GaugeMetricFamily("storekit_queue_depth", "Jobs waiting for a worker.", value=figures["queued"])
        yield GaugeMetricFamily("storekit_queue_oldest_seconds", "Age of the oldest queued job (0: none).",
                                value=figures["oldest_queued_seconds"])
        stores = GaugeMetricFamily("storekit_stores", "Stores in the catalog, by status.", labels=["status"])
        for status, count in sorted(figures["stores"].items()):
            stores.add_metric([status], count)
        yield stores


class Metrics:
    def __init__(self, catalog: Callable):
        self.registry = CollectorRegistry(auto_describe=True)
        self.durations = Histogram("storekit_operation_seconds", "Operations run by this process, by outcome.",
                                   ["operation", "outcome"], buckets=BUCKETS, registry=self.registry)
        self.failures = Counter("storekit_engine_failures", "Operations of this process that failed.",
                                ["operation"], registry=self.registry)
        self.recoveries = Counter("storekit_recoveries", "Crashed runs repaired by this process.",
                                  registry=self.registry)
        self.drift = Counter("storekit_drift_changes", "Drifted objects found by this process's drift checks.",
                             registry=self.registry)
        self.drift_checks = Counter("storekit_drift_checks", "Drift checks run by this process.",
                                    registry=self.registry)
        self.registry.register(_CatalogCollector(catalog))

    def __call__(self, event: Event) -> None:
        if isinstance(event, OperationFinished):
            self.durations.labels(event.operation, "ok" if event.ok else "failed").observe(event.seconds)
            if not event.ok:
                self.failures.labels(event.operation).inc()
        elif isinstance(event, Recovered):
            self.recoveries.inc()
        elif isinstance(event, DriftChecked):
            self.drift_checks.inc()
            self.drift.inc(event.changes)

    def render(self) -> bytes:
        return generate_latest(self.registry)
