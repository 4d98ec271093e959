"""Lifecycle records (pure): series keys, fingerprints, Evidence, Anomaly, Transition, states."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anomaly_service.catalog import MetricSpec
from relia_contracts.severity import SEVERITIES

EVIDENCE_FIELDS = ("timestamps", "values", "baseline", "lower", "upper")

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]  # (metric, sorted labels)


def series_key(metric: str, labels: dict[str, str]) -> SeriesKey:
    return metric, tuple(sorted(labels.items()))


def fingerprint(metric: str, labels: dict[str, str], kind: str) -> str:
    """16 hex chars, stable across cycles and restarts: metric, labels and anomaly kind."""
    parts = [f"metric={metric}", *(f"{k}={v}" for k, v in sorted(labels.items())), f"kind={kind}"]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"


class Evidence:
    """Recent points of one series with its baseline band: a numpy ring, 5 x size float64."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._table = np.full((len(EVIDENCE_FIELDS), size), math.nan)
        self._next = 0  # total points ever added; the ring index is _next % size

    def __len__(self) -> int:
        return min(self._next, self.size)

    def add(
        self,
        ts: float,
        value: float | None,
        baseline: float | None,
        lower: float | None,
        upper: float | None,
    ) -> None:
        column = self._table[:, self._next % self.size]
        for i, v in enumerate((ts, value, baseline, lower, upper)):
            column[i] = math.nan if v is None else v
        self._next += 1

    def freeze(self) -> np.ndarray:
        """The points in time order, as a compact copy (~14 KB for 360 points)."""
        if self._next <= self.size:
            return self._table[:, : self._next].copy()
        cut = self._next % self.size
        return np.concatenate((self._table[:, cut:], self._table[:, :cut]), axis=1)

    def as_dict(self) -> dict[str, list[Any]]:
        return thaw(self.freeze())


def thaw(table: np.ndarray) -> dict[str, list[Any]]:
    """Back to JSON-ready lists, NaN -> None."""
    return {
        name: [None if math.isnan(v) else v for v in table[i].tolist()]
        for i, name in enumerate(EVIDENCE_FIELDS)
    }


@dataclass
class Anomaly:
    id: str
    fingerprint: str
    service: str
    metric: str
    labels: dict[str, str]
    kind: str  # deviation | no_data
    severity: int
    peak_severity: int
    opened_at: float
    unit: str
    direction: str
    value: float | None = None
    baseline: float | None = None
    lower: float | None = None
    upper: float | None = None
    peak_value: float | None = None  # the worst value seen while open, in the bad direction
    status: str = "active"
    resolved_at: float | None = None
    sent_severity: int = 0  # the highest severity already announced in a firing event
    updated_at: float = 0.0
    frozen_evidence: np.ndarray | None = None  # compact copy taken at resolve time
    expired: bool = False  # closed because its series stayed absent past the TTL
    cause: dict[str, Any] | None = None  # set while a dependency explains it (dependencies.py)
    # Every dependency that explained it at some cycle while open, first seen first: `cause`
    # follows the evidence, so an anomaly that outlives it would otherwise forget its culprit.
    caused_by_seen: list[str] = field(default_factory=list)
    load_driven: bool = False  # it started while the service's traffic was above its band (load.py)
    # Closed without a verdict: restored after a restart but its metric left the catalog.
    interrupted: bool = False
    # Open before a restart: kept open until the detector judges its series again (observe).
    restored: bool = False
    calm: int = 0  # judged-normal points seen while restored

    def summary(self) -> str:
        if self.kind == "no_data":
            text = f"{self.service} {self.metric}: no data (series gone or target down)"
            return text + ("; series expired" if self.expired else "") + self._interrupted()
        unit = f" {self.unit}" if self.unit else ""
        if self.interrupted:
            return f"{self.service} {self.metric}{self._interrupted()}"
        if self.status == "resolved" and not self.expired:
            # the current value is normal again: the story is the worst point, not this one
            return (
                f"{self.service} {self.metric} back to {fmt(self.value)}{unit}; worst "
                f"{fmt(self.peak_value)}{unit} against baseline {fmt(self.baseline)}{unit}"
            )
        where = "above" if (self.value or 0.0) >= (self.baseline or 0.0) else "below"
        return (
            f"{self.service} {self.metric} {fmt(self.value)}{unit} {where} baseline "
            f"{fmt(self.baseline)}{unit}"
        )

    def _interrupted(self) -> str:
        return "; closed as interrupted: no longer in the catalog" if self.interrupted else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "service": self.service,
            "metric": self.metric,
            "labels": dict(self.labels),
            "kind": self.kind,
            "severity": SEVERITIES[self.severity],
            "peak_severity": SEVERITIES[self.peak_severity],
            "status": self.status,
            "opened_at": self.opened_at,
            "resolved_at": self.resolved_at,
            "value": self.value,
            "baseline": self.baseline,
            "lower": self.lower,
            "upper": self.upper,
            "peak_value": self.peak_value,
            "unit": self.unit,
            "summary": self.summary(),
            "interrupted": self.interrupted,
            **self.cause_fields(),
        }

    def cause_fields(self) -> dict[str, Any]:
        """Victim of a dependency or not, with the evidence (docs/root-cause.md)."""
        cause = self.cause or {}
        return {
            "caused_by": list(cause.get("caused_by", [])),
            "caused_by_seen": list(self.caused_by_seen),
            "root_causes": list(cause.get("root_causes", [])),
            "cause_evidence": list(cause.get("evidence", [])),
            "caused_by_load": self.load_driven,
        }


@dataclass(frozen=True)
class Transition:
    """A change worth an event: firing (open or escalation) or resolved."""

    status: str  # firing | resolved
    reason: str  # open | escalate | resolve
    anomaly: dict[str, Any]  # snapshot at the time of the change


@dataclass
class Observation:
    """What the detector said about one series this cycle."""

    value: float
    baseline: float
    lower: float
    upper: float
    score: float
    severity: int
    open: bool
    warming: bool


@dataclass
class SeriesState:
    key: SeriesKey
    spec: MetricSpec
    labels: dict[str, str]
    evidence: Evidence
    last: Observation | None = None
    slot: int | None = None  # detector bank slot, set by the engine
    last_ts: float | None = None
    missing_cycles: int = 0
    # Of those, the cycles that count toward no_data: not held (see Tracker.missing).
    counted_missing: int = 0
    deviation: Anomaly | None = None
    no_data: Anomaly | None = None

    @property
    def service(self) -> str:
        return self.labels.get("service", "")
