"""The anomaly service's current classification: `GET /predict` (every series) and
`GET /services/health` (the roll-up per service).

The policy engine, the dashboard, the chaos CLI and the e2e harness read these. Unknown keys are
ignored on parsing, so a consumer keeps working when the service adds one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from relia_contracts.anomalies import AnomalyKind
from relia_contracts.severity import SeverityWord

ServiceStatus = Literal["healthy", "degraded", "critical", "no_data", "unknown"]


class SeriesView(BaseModel):
    """One series' newest classification (`severity` "normal" and `kind` null: no anomaly)."""

    service: str
    metric: str
    labels: dict[str, str]
    value: float | None  # null while the series is missing
    baseline: float | None
    lower: float | None
    upper: float | None
    score: float | None
    severity: SeverityWord
    kind: AnomalyKind | None
    unit: str
    direction: Literal["up", "down", "both"]
    warming_up: bool
    anomaly_id: str | None
    ts: float | None
    missing_cycles: int
    caused_by: list[str]
    caused_by_load: bool
    series_id: str
    sensitivity: float  # the operator's factor on the thresholds (1.0: the detector's own)
    muted_until: float | None


class PredictSnapshot(BaseModel):
    """`GET /predict`. `stale`: Prometheus is not answering, the series are from the last good
    cycle."""

    generated_at: float
    cycle: int
    ready: bool
    stale: bool
    error: str | None
    series: list[SeriesView]


class SignalView(BaseModel):
    """A service's newest value of one signal (of several series, the worst)."""

    value: float | None
    severity: SeverityWord
    unit: str
    kind: AnomalyKind | None


class ServiceHealth(BaseModel):
    service: str
    status: ServiceStatus  # unknown: Prometheus is not answering, never claimed healthy
    replicas_up: int
    replicas_total: int
    open_anomalies: int
    signals: dict[str, SignalView]  # by metric name


class ServicesHealth(BaseModel):
    """`GET /services/health`: status, replicas, open anomalies and key signals per service."""

    generated_at: float
    ready: bool
    stale: bool
    error: str | None
    services: list[ServiceHealth]
