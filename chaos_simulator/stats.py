"""Pure request statistics: counts, error ratio and latency percentiles."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(pos)
    high = math.ceil(pos)
    frac = pos - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * frac


@dataclass
class Outcome:
    """One finished request: which endpoint, what came back, how long it took."""

    endpoint: str
    status: int | None  # None when no HTTP answer arrived (connect error, timeout)
    latency_s: float
    error: str | None = None

    @property
    def failed(self) -> bool:
        # 5xx and transport failures are the service's fault; 4xx is the caller's.
        return self.status is None or self.status >= 500


@dataclass
class Stats:
    """Accumulates outcomes; `summary()` turns them into the report figures."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    by_endpoint: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    client_errors: int = 0
    cancelled: int = 0
    peak_in_flight: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)

    def add(self, outcome: Outcome) -> None:
        self.latencies.append(outcome.latency_s)
        self.by_endpoint[outcome.endpoint] += 1
        self.statuses[str(outcome.status) if outcome.status is not None else "none"] += 1
        if outcome.failed:
            self.failed += 1
            if outcome.error:
                self.errors[outcome.error] += 1
        elif outcome.status is not None and outcome.status >= 400:
            self.client_errors += 1

    def observe_in_flight(self, in_flight: int) -> None:
        self.peak_in_flight = max(self.peak_in_flight, in_flight)

    def summary(self, elapsed_s: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        count = len(ordered)

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000.0, 2)

        return {
            "requests": count,
            "elapsed_s": round(elapsed_s, 3),
            "rate_rps": round(count / elapsed_s, 2) if elapsed_s > 0 else 0.0,
            "failed": self.failed,
            "error_pct": round(100.0 * self.failed / count, 2) if count else 0.0,
            "client_errors": self.client_errors,
            "cancelled": self.cancelled,
            "peak_in_flight": self.peak_in_flight,
            "latency_ms": {
                "p50": ms(percentile(ordered, 50)),
                "p95": ms(percentile(ordered, 95)),
                "p99": ms(percentile(ordered, 99)),
                "max": ms(ordered[-1] if ordered else None),
            },
            "status_codes": dict(sorted(self.statuses.items())),
            "errors": dict(self.errors.most_common(5)),
            "by_endpoint": dict(sorted(self.by_endpoint.items())),
        }
