"""A cycle's outputs: its transitions to the notifier, its figures to the service's metrics."""

from __future__ import annotations

from anomaly_service.catalog import MetricSpec
from anomaly_service.events import alertmanager_payload
from anomaly_service.lifecycle import Tracker
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.notifier import Notifier
from anomaly_service.records import Transition
from relia_contracts.severity import SEVERITIES


def emit(
    transitions: list[Transition], metrics: ServiceMetrics, notifier: Notifier, external_url: str
) -> None:
    """Each transition counted and sent to the notifier as an Alertmanager alert."""
    for t in transitions:
        metrics.events_emitted.labels(t.status).inc()
        if t.reason == "open":
            a = t.anomaly
            metrics.opened.labels(a["metric"], a["severity"], a["kind"]).inc()
        notifier.submit(alertmanager_payload(t.anomaly, t.status, external_url))


def export(
    metrics: ServiceMetrics, catalog: list[MetricSpec], tracker: Tracker, ts: float, duration: float
) -> None:
    """A successful cycle's figures: duration, series tracked, active anomalies by kind."""
    metrics.cycle_duration.observe(duration)
    metrics.cycles.labels("ok").inc()
    metrics.last_success.set(ts)
    metrics.prometheus_up.set(1)
    metrics.series_tracked.set(len(tracker.series))
    counts: dict[tuple[str, str, str], int] = {}
    for a in tracker.active.values():
        key = (a.metric, SEVERITIES[a.severity], a.kind)
        counts[key] = counts.get(key, 0) + 1
    metrics.active.clear()
    for spec in catalog:
        for word in SEVERITIES[1:]:
            metrics.active.labels(spec.name, word, "deviation").set(0)
    for (metric, sev, kind), n in counts.items():
        metrics.active.labels(metric, sev, kind).set(n)
