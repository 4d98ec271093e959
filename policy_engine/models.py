"""Wire and record models shared by the engine, the store and the API."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

Outcome = Literal["pending", "succeeded", "failed", "skipped", "dry_run", "interrupted"]
Verification = Literal["pending", "succeeded", "ineffective", "failed", "not_applicable"]


class Trigger(BaseModel):
    """What caused an action: an anomaly event, a sustained snapshot condition, or an operator."""

    anomaly_id: str | None = None
    fingerprint: str | None = None
    alertname: str | None = None
    metric: str | None = None
    severity: str | None = None
    value: float | None = None
    kind: str | None = None
    source: Literal["alert", "snapshot", "manual", "breaker"] = "alert"
    received_at: float | None = None
    reason: str | None = None
    # an external (Alertmanager) alert's labels: what silences are matched against
    labels: dict[str, str] = Field(default_factory=dict)


class ActionRecord(BaseModel):
    """One audit-log entry (docs/contracts.md, action record)."""

    id: str
    created_at: float
    finished_at: float | None = None
    policy: str
    policy_version: str | None = None
    action: str
    service: str
    target: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    manual: bool = False
    dry_run: bool = False
    trigger: Trigger = Field(default_factory=Trigger)
    outcome: Outcome
    reason: str | None = None
    error: str | None = None
    detail: str | None = None
    verification: Verification = "not_applicable"
    verified_at: float | None = None
    verify_by: float | None = None
    duration_ms: float | None = None
    # `alert` actions: did the notification reach its receiver (Alertmanager or a webhook)?
    delivery: Literal["sent", "failed"] | None = None


class ActionPage(BaseModel):
    """One page of the audit log (`GET /actions`), newest first."""

    items: list[ActionRecord]
    total: int  # records matching the filters, all pages
    limit: int
    offset: int


# Alertmanager webhook v4 (what POST /alerts accepts) ----------------------------------------


class AMAlert(BaseModel):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("labels", "annotations")
    @classmethod
    def _bounded(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 100:
            raise ValueError("more than 100 entries")
        for key, item in value.items():
            if len(key) > 200 or len(item) > 4000:
                raise ValueError(f"entry '{key[:40]}' is too long")
        return value


class AMWebhook(BaseModel):
    version: str = "4"
    groupKey: str = ""
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    truncatedAlerts: int = 0
    alerts: list[AMAlert] = Field(max_length=1000)

    @field_validator("version")
    @classmethod
    def _v4(cls, value: str) -> str:
        if value != "4":
            raise ValueError(f"only Alertmanager webhook version 4 is supported, got {value!r}")
        return value


class ManualAction(BaseModel):
    action: str
    service: str
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field(default="", max_length=500)
    container: str | None = Field(default=None, max_length=200)


class BreakerResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")
    actor: str = Field(default="api", max_length=100)  # who: "dashboard", a name, ...


class ToggleBody(BaseModel):
    enabled: StrictBool


def finite_or_none(value: Any) -> float | None:
    """A float from a number or numeric string; None for missing, garbage, NaN or infinities."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
