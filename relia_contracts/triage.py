"""`GET /anomalies/{id}/triage` of the anomaly service: the triage packet (docs/root-cause.md).

A part the service could not get says why (`unavailable`), never guesses; the keys that only
one of the two cases has are optional, and absent (not null) in the other. The dashboard and
the e2e harness read it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from relia_contracts.anomalies import AnomalyKind, CauseEvidence
from relia_contracts.severity import SeverityWord


class TriageWhat(BaseModel):
    signal: str
    kind: AnomalyKind
    value: float | None
    baseline: float | None
    band: list[float | None]  # [lower, upper]
    unit: str
    severity: SeverityWord
    peak_severity: SeverityWord | None
    peak_value: float | None
    summary: str


class TriageWhen(BaseModel):
    opened_at: float
    resolved_at: float | None
    duration_s: float
    status: Literal["active", "resolved"] | None


class TriageWhere(BaseModel):
    service: str
    labels: dict[str, str]
    replicas_up: int | None
    replicas_total: int | None


class Slo(BaseModel):
    floor: float | None  # the catalog's floor for the signal
    crossed: bool


class TriageImpact(BaseModel):
    """Requests served and failed since the anomaly opened, or why they are unknown."""

    slo: Slo
    since: float
    unavailable: str | None = None
    requests: int | None = None
    failed_requests: int | None = None
    window_s: float | int | None = None


class Change(BaseModel):
    at: float | int | None
    source: Literal["relia", "docker", "container", "policies"]
    what: str
    action_id: str | None = None  # relia actions only


class TriageChanges(BaseModel):
    since: float
    items: list[Change]  # newest first
    unavailable: dict[str, str]  # source -> why it could not be read


class SuspectedCause(BaseModel):
    caused_by: list[str]
    caused_by_seen: list[str] = Field(default_factory=list)
    root_causes: list[str]
    evidence: list[CauseEvidence]
    summary: str


class NextStep(BaseModel):
    runbook: str | None
    remediation: str | None = None  # absent once the anomaly is resolved
    # the policy engine's `GET /plan` answer, passed through as it came
    policy_plan: dict[str, Any] | None = None
    plan_unavailable: str | None = None
    summary: str


class TriagePacket(BaseModel):
    id: str
    what: TriageWhat
    when: TriageWhen
    where: TriageWhere
    impact: TriageImpact
    changes: TriageChanges
    suspected_cause: SuspectedCause
    next_step: NextStep
