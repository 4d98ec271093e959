"""Test doubles for the anomaly service's adapters (no I/O): a scripted Prometheus and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anomaly_service.catalog import MetricSpec
from anomaly_service.prometheus import PrometheusUnavailable, QueryRejected, RangeSeries, Sample


@dataclass
class FakeClock:
    now: float = 1_732_200_000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 5.0) -> float:
        self.now += seconds
        return self.now


@dataclass
class FakePrometheus:
    """Answers each PromQL with what the test set: {query: {service: value}}; raises on demand."""

    values: dict[str, dict[str, float]] = field(default_factory=dict)
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    down: bool = False
    replicas: dict[str, tuple[int, int]] = field(default_factory=dict)
    scraped_at: dict[str, float] = field(default_factory=dict)  # service -> newest scrape time
    # More targets: (service, instance) -> newest scrape time, answered with an instance label.
    instance_scrapes: dict[tuple[str, str], float] = field(default_factory=dict)
    started: str | None = None  # Prometheus' start time, as /api/v1/status/runtimeinfo says
    labelled: dict[str, list[Sample]] = field(default_factory=dict)  # query -> samples as given
    calls: list[str] = field(default_factory=list)
    times: list[float | None] = field(default_factory=list)  # the `at` of each query
    on_query: Callable[[str], None] | None = None

    async def query(self, promql: str, at: float | None = None) -> list[Sample]:
        self.calls.append(promql)
        self.times.append(at)
        if self.down:
            raise PrometheusUnavailable("connection refused (fake)")
        if promql in self.rejected:
            raise QueryRejected(self.rejected[promql])
        if promql in self.labelled:
            return list(self.labelled[promql])
        if promql.startswith("sum by (service) (up"):
            return [Sample({"service": s}, float(u)) for s, (u, _) in self.replicas.items()]
        if promql.startswith("count by (service) (up"):
            return [Sample({"service": s}, float(t)) for s, (_, t) in self.replicas.items()]
        if promql.startswith("timestamp(up"):
            return [Sample({"service": s}, t) for s, t in self.scraped_at.items()] + [
                Sample({"service": s, "instance": i}, t)
                for (s, i), t in self.instance_scrapes.items()
            ]
        return [Sample({"service": s}, v) for s, v in self.values.get(promql, {}).items()]

    async def start_time(self) -> str | None:
        if self.down:
            raise PrometheusUnavailable("connection refused (fake)")
        return self.started

    async def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[RangeSeries]:
        if self.down:
            raise PrometheusUnavailable("connection refused (fake)")
        if promql in self.rejected:
            raise QueryRejected(self.rejected[promql])
        out = []
        for service, values in self.history.get(promql, {}).items():
            ts = [end - step * (len(values) - 1 - i) for i in range(len(values))]
            out.append(RangeSeries({"service": service}, ts, list(values)))
        return out

    async def aclose(self) -> None:
        return None


@dataclass
class ListNotifier:
    """Collects payloads instead of sending them."""

    payloads: list[dict[str, Any]] = field(default_factory=list)

    def submit(self, payload: dict[str, Any]) -> bool:
        self.payloads.append(payload)
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def drain(self, timeout_s: float) -> bool:
        return True

    def stats(self) -> dict[str, Any]:
        return {"queued": len(self.payloads)}


def spec(
    name: str = "latency",
    query: str = "q_latency",
    direction: str = "up",
    floor: float | None = 0.5,
    unit: str = "seconds",
    on_missing: str = "no_data",
    min_spread: float | None = None,
) -> MetricSpec:
    return MetricSpec(
        name=name,
        query=query,
        unit=unit,
        direction=direction,
        floor=floor,
        min_spread=min_spread,
        on_missing=on_missing,
    )


def steady(n: int, level: float, wiggle: float, seed: int = 1) -> list[float]:
    """Deterministic small noise around `level`."""
    import random

    rng = random.Random(seed)
    return [level + rng.uniform(-wiggle, wiggle) for _ in range(n)]
