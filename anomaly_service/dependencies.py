"""Each cycle: read the call edges from Prometheus, judge causes, stamp them on anomalies."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from anomaly_service.attribution import (
    PROPAGATING,
    Attribution,
    AttributionConfig,
    EdgeSample,
    ServiceHealth,
    attribute,
)
from anomaly_service.callgraph import CallGraph
from anomaly_service.lifecycle import Tracker
from anomaly_service.prometheus import PrometheusSource, QueryRejected, Sample
from anomaly_service.records import Transition

log = logging.getLogger("anomaly_service.dependencies")

# The client histogram of docs/services.md by edge, over the catalog's 15 s window.
_CLIENT_COUNT = "http_client_request_duration_seconds_count"


def _per_second(selector: str) -> str:
    """rate() over 15 s, where a series born inside the window (an edge's first failed or
    timed-out call) counts as its total over 15 s: rate() needs two samples, so the edge
    showed its failures one scrape after the caller's own error_rate (catalog.yml does the
    same), and a victim opening on that scrape was not yet known as one."""
    return f"rate({selector}[15s]) or ({selector} unless {selector} offset 15s) / 15"


def _by_edge_per_second(selector: str) -> str:
    return f"sum by (service, peer_service) ({_per_second(_CLIENT_COUNT + selector)})"


CALLS = _by_edge_per_second('{job="services"}')
FAILURES = _by_edge_per_second('{job="services", status_code=~"5..|none"}')
TIMEOUTS = _by_edge_per_second('{job="services", error_type="timeout"}')
P99 = (
    "histogram_quantile(0.99, sum by (service, peer_service, le) "
    '(rate(http_client_request_duration_seconds_bucket{job="services"}[15s])))'
)
# Open anomalies on these signals (or any no_data) mean the service is unreachable or hung.
DOWN_SIGNALS = frozenset({"availability", "probe_success"})


def _by_edge(samples: list[Sample]) -> dict[tuple[str, str], float]:
    out = {}
    for s in samples:
        caller, callee = s.labels.get("service"), s.labels.get("peer_service")
        if caller and callee and math.isfinite(s.value):
            out[(caller, callee)] = s.value
    return out


def service_health(tracker: Tracker) -> dict[str, ServiceHealth]:
    """What each service's open anomalies and latency series say, for attribution."""
    opened: dict[str, dict[str, float]] = {}
    down: set[str] = set()
    for a in tracker.active.values():
        metrics = opened.setdefault(a.service, {})
        metrics[a.metric] = min(a.opened_at, metrics.get(a.metric, math.inf))
        if a.kind == "no_data" or a.metric in DOWN_SIGNALS:
            down.add(a.service)
    # The newest value of each service's own latency and error ratio (worst over label sets).
    own: dict[str, dict[str, float]] = {"latency": {}, "error_rate": {}}
    for state in tracker.series.values():
        values = own.get(state.spec.name)
        if values is not None and state.last is not None and state.service:
            values[state.service] = max(state.last.value, values.get(state.service, 0.0))
    names = set(opened) | set(own["latency"]) | set(own["error_rate"]) | down
    return {
        n: ServiceHealth(
            n, opened.get(n, {}), n in down, own["latency"].get(n), own["error_rate"].get(n)
        )
        for n in sorted(names)
    }


class Dependencies:
    """The learned call graph and this cycle's attributions."""

    def __init__(self, config: AttributionConfig | None = None) -> None:
        self.config = config or AttributionConfig()
        self.graph = CallGraph(self.config.edge_ttl_s)
        self.attributions: dict[str, Attribution] = {}
        self.error: str | None = None

    async def sample(self, source: PrometheusSource, at: float) -> list[EdgeSample]:
        """This cycle's edges; none when Prometheus rejects the queries (reported, not fatal)."""
        try:
            calls, failures, timeouts, p99 = await asyncio.gather(
                *(source.query(q, at) for q in (CALLS, FAILURES, TIMEOUTS, P99))
            )
        except QueryRejected as exc:
            if self.error != exc.reason:
                log.error("edge queries rejected: %s", exc.reason)
            self.error = exc.reason
            return []
        self.error = None
        fail, slow, tail = _by_edge(failures), _by_edge(timeouts), _by_edge(p99)
        return [
            EdgeSample(*edge, rate, fail.get(edge, 0.0), slow.get(edge, 0.0), tail.get(edge))
            for edge, rate in _by_edge(calls).items()
        ]

    def update(
        self, ts: float, samples: list[EdgeSample], tracker: Tracker, transitions: list[Transition]
    ) -> None:
        """Attribute, then stamp the causes on the open anomalies and this cycle's events."""
        self.graph.observe(ts, samples, self.config.min_calls)
        self.attributions = attribute(service_health(tracker), self.graph, samples, self.config)
        self.graph.learn_p99(samples, self.config)
        for anomaly in tracker.active.values():
            anomaly.cause = self.cause(anomaly.service, anomaly.metric)
            for callee in (anomaly.cause or {}).get("caused_by", []):
                if callee not in anomaly.caused_by_seen:
                    anomaly.caused_by_seen.append(callee)
        for t in transitions:
            active = tracker.active.get(t.anomaly["id"])
            if active is not None:
                t.anomaly.update(active.cause_fields())

    def cause(self, service: str, metric: str) -> dict[str, Any] | None:
        """The attribution of a service's latency or error anomaly, if it is a victim."""
        found = self.attributions.get(service)
        if metric not in PROPAGATING or found is None or not found.caused_by_dependency:
            return None
        return found.to_dict()
