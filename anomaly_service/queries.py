"""The catalog's queries each cycle: ask Prometheus, keep each metric's status, read answers."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from anomaly_service.catalog import MetricSpec
from anomaly_service.lifecycle import Tracker
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.prometheus import PrometheusSource, QueryRejected, Sample
from anomaly_service.records import SeriesState

log = logging.getLogger("anomaly_service.engine")  # the cycle's own log: one place to read


@dataclass
class MetricStatus:
    """Per catalog entry: Prometheus' verdict on its query and what it returned."""

    error: str | None = None
    series: int = 0
    skipped: int = 0  # samples without a service label or with a non-finite value
    last_ok_at: float | None = None


@dataclass
class Batch:
    """A cycle's query answers: series seen, metrics answered, and the new values."""

    present: list[SeriesState] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    seen: set[Any] = field(default_factory=set)
    answered: set[str] = field(default_factory=set)


def clean_labels(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


class CatalogQueries:
    """Per catalog metric: its instant query, Prometheus' verdict on it, and its answer read
    into the cycle's Batch (the engine owns one)."""

    def __init__(
        self,
        catalog: list[MetricSpec],
        source: PrometheusSource,
        tracker: Tracker,
        metrics: ServiceMetrics,
    ) -> None:
        self.source = source
        self.tracker = tracker
        self.metrics = metrics
        self.status: dict[str, MetricStatus] = {spec.name: MetricStatus() for spec in catalog}

    async def query(self, spec: MetricSpec, at: float) -> list[Sample] | None:
        try:
            samples = await self.source.query(spec.query, at)
        except QueryRejected as exc:
            self.reject(spec, exc.reason)
            return None
        status = self.status[spec.name]
        status.error = None
        self.metrics.query_errors.labels(spec.name).set(0)
        return samples

    def reject(self, spec: MetricSpec, reason: str) -> None:
        status = self.status[spec.name]
        if status.error != reason:
            log.error("metric %r: Prometheus rejected the query: %s", spec.name, reason)
        status.error = reason
        self.metrics.query_errors.labels(spec.name).set(1)

    def read(
        self,
        spec: MetricSpec,
        samples: list[Sample],
        ts: float,
        batch: Batch,
        unchanged: set[str],
        behind: set[str],
    ) -> None:
        """One query's answer: its series are seen, those with a new usable value go on."""
        batch.answered.add(spec.name)
        status = self.status[spec.name]
        status.last_ok_at, status.skipped, status.series = ts, 0, 0
        for sample in samples:
            labels = clean_labels(sample.labels)
            if "service" not in labels:
                status.skipped += 1
                continue
            state = self.tracker.state(spec, labels)
            if state.key in batch.seen:
                status.skipped += 1  # duplicate label set (query not grouped as documented)
                continue
            batch.seen.add(state.key)
            status.series += 1
            if self._new_value(state, sample.value, ts, status, unchanged, behind):
                batch.present.append(state)
                batch.values.append(sample.value)

    def _new_value(
        self,
        state: SeriesState,
        value: float,
        ts: float,
        status: MetricStatus,
        unchanged: set[str],
        behind: set[str],
    ) -> bool:
        """Whether a present series' value goes to the detector this cycle."""
        if not math.isfinite(value):
            # NaN/Inf from Prometheus: the series exists, its value is unusable.
            status.skipped += 1
            return False
        if state.service in unchanged:
            if state.service in behind:
                self.metrics.out_of_order.inc()
            return False  # present, but no new scrape: the detector saw this value already
        if state.last_ts is not None and ts < state.last_ts:
            # Older than the series' last point (the clock stepped back): skipped, so
            # the detector and the evidence only ever move forward in time.
            self.metrics.out_of_order.inc()
            return False
        return True
