"""The anomaly as the anomaly service serves it: `GET /anomalies` (a page), `GET /anomalies/{id}`
(with feedback, sensitivity and evidence) and `POST /anomalies/{id}/feedback`.

Consumers (dashboard, chaos CLI, e2e harness) may parse with these; unknown keys are ignored so
an older consumer keeps working when the service adds one. The producer's tests compare each
answer with what the service built, so a field the model lacks cannot be dropped unseen.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from relia_contracts.severity import SeverityWord

AnomalyKind = Literal["deviation", "no_data"]
FeedbackLabel = Literal["noise", "confirmed"]


class CauseEvidence(BaseModel):
    """Why a dependency is blamed: its signal and which of the two opened first."""

    callee: str
    signal: str
    value: float
    callee_state: str
    caller_opened_at: float | None
    callee_opened_at: float | None
    opened_first: Literal["callee", "caller", "same", "unknown"]


class Anomaly(BaseModel):
    """One anomaly: a series outside its band (deviation) or gone (no_data)."""

    id: str
    fingerprint: str
    service: str
    metric: str
    labels: dict[str, str]
    kind: AnomalyKind
    severity: SeverityWord
    peak_severity: SeverityWord
    status: Literal["active", "resolved"]
    opened_at: float
    resolved_at: float | None
    value: float | None
    baseline: float | None
    lower: float | None
    upper: float | None
    peak_value: float | None
    unit: str
    summary: str
    interrupted: bool
    caused_by: list[str]  # the dependencies that explain it now (the policies read this)
    # every dependency that explained it at some point while open (older producers: none)
    caused_by_seen: list[str] = Field(default_factory=list)
    root_causes: list[str]
    cause_evidence: list[CauseEvidence]
    caused_by_load: bool


class AnomalyItem(Anomaly):
    """A `GET /anomalies` item: the anomaly and its latest operator label (null: none)."""

    feedback: FeedbackLabel | None


class AnomalyPage(BaseModel):
    """`GET /anomalies`: one page, newest first."""

    items: list[AnomalyItem]
    total: int  # anomalies matching the filters, all pages
    limit: int
    offset: int


class FeedbackRecord(BaseModel):
    """One stored operator label (the anomaly service keeps its labels as these)."""

    model_config = ConfigDict(frozen=True)

    id: str
    at: float
    anomaly_id: str
    series_id: str
    service: str
    metric: str
    label: FeedbackLabel
    reason: str
    mute_for_s: float | None
    factor_after: float
    muted_until: float | None


class Sensitivity(BaseModel):
    """A series' operator-set sensitivity (factor 1.0 and no mute: the detector's own)."""

    series_id: str
    service: str
    metric: str
    labels: dict[str, str]
    factor: float
    muted_until: float | None
    noise: int
    confirmed: int
    updated_at: float
    muted: bool


class Evidence(BaseModel):
    """The series around the anomaly, point by point (null: no point, or still warming up)."""

    timestamps: list[float]
    values: list[float | None]
    baseline: list[float | None]
    lower: list[float | None]
    upper: list[float | None]


class AnomalyDetail(AnomalyItem):
    """`GET /anomalies/{id}`: the anomaly with every label, its series' sensitivity (null: the
    detector's own) and the evidence."""

    feedback_records: list[FeedbackRecord]
    series_id: str
    sensitivity: Sensitivity | None
    evidence: Evidence


class FeedbackAnswer(BaseModel):
    """`POST /anomalies/{id}/feedback` (201): the stored label and the series' sensitivity."""

    feedback: FeedbackRecord
    sensitivity: Sensitivity


class FeedbackPage(BaseModel):
    """`GET /feedback`: every stored label, newest first."""

    items: list[FeedbackRecord]
    total: int
    limit: int
    offset: int


class PrecisionCounts(BaseModel):
    confirmed: int
    noise: int
    precision: float | None  # confirmed / (confirmed + noise); null: no label yet


class SignalPrecision(BaseModel):
    service: str
    metric: str
    confirmed: int
    noise: int
    precision: float


class Precision(BaseModel):
    """`GET /feedback/precision`: per signal and overall, each anomaly counted once by its
    latest label."""

    signals: list[SignalPrecision]
    overall: PrecisionCounts


class SensitivityLimits(BaseModel):
    step: float  # each noise label multiplies the thresholds by this
    max_factor: float
    max_mute_s: float


class SensitivityList(BaseModel):
    """`GET /sensitivity`: the series an operator changed, and the bounds of a change."""

    items: list[Sensitivity]
    limits: SensitivityLimits
