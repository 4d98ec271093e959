"""What the poller has fetched: each endpoint's latest answer and the signals' recent samples."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from dashboard.shapes import num, obj, seq

BACKENDS = ("anomaly", "policy")


@dataclass
class Resource:
    """The latest known answer of one backend endpoint, and how the latest attempt went."""

    data: Any = None
    fetched_at: float | None = None
    attempted_at: float | None = None
    error: str | None = None

    def record_ok(self, data: Any, now: float) -> None:
        self.data = data
        self.fetched_at = now
        self.attempted_at = now
        self.error = None

    def record_error(self, message: str, now: float) -> None:
        # Keep the last good data: the snapshot shows it with its age, flagged as not current.
        self.attempted_at = now
        self.error = message


@dataclass
class SignalHistory:
    """Recent real samples per (service, metric), from the anomaly service's /predict."""

    maxlen: int = 120
    points: dict[tuple[str, str], deque[tuple[float, float | None]]] = field(default_factory=dict)

    def add_predict(self, predict: dict[str, Any]) -> None:
        """Append each series' point once (keyed by its own timestamp, so no duplicates)."""
        for series in seq(predict.get("series")):
            series = obj(series)
            service, metric, ts = series.get("service"), series.get("metric"), series.get("ts")
            if not isinstance(service, str) or not isinstance(metric, str):
                continue
            ts = num(ts) if num(ts) is not None else num(predict.get("generated_at"))
            if ts is None:
                continue
            value = num(series.get("value"))
            buf = self.points.setdefault((service, metric), deque(maxlen=self.maxlen))
            if buf and ts <= buf[-1][0]:
                continue
            buf.append((ts, value))

    def get(self, service: str, metric: str) -> list[list[float | None]]:
        return [[ts, v] for ts, v in self.points.get((service, metric), ())]


@dataclass
class Store:
    """Everything fetched so far. Keys are endpoint names used by the poller."""

    resources: dict[str, dict[str, Resource]] = field(
        default_factory=lambda: {name: {} for name in BACKENDS}
    )
    history: SignalHistory = field(default_factory=SignalHistory)

    def resource(self, backend: str, name: str) -> Resource:
        return self.resources[backend].setdefault(name, Resource())
