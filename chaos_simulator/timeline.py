"""A scenario's timeline: when the fault was detected, answered and recovered from, and the
settling rule that counts an anomaly fallen below warning as recovered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relia_contracts.severity import SEVERITY_RANK

# An anomaly that fell below warning and stayed there this long counts as recovered although
# it is still open at info: on a busy host a restarted service's p99 can sit a little above the
# band learned on a quiet one, poking out at info for many minutes (seen in CI), while nothing
# acts on it or pages for it any more.
SETTLED_S = 30.0


@dataclass
class Settling:
    """Tracks an open anomaly's severity across polls: `see` returns when it went below
    warning, once it has stayed there SETTLED_S."""

    below_since: float | None = None

    def see(self, severity: str, now: float) -> float | None:
        rank = SEVERITY_RANK.get(severity)
        if rank is None or rank >= SEVERITY_RANK["warning"]:
            self.below_since = None
            return None
        if self.below_since is None:
            self.below_since = now
        return self.below_since if now - self.below_since >= SETTLED_S else None


@dataclass
class Timeline:
    """What happened when, in Unix seconds; `after_s` figures are relative to the injection."""

    scenario: str
    service: str
    metric: str
    injected_at: float
    dry_run: bool
    detected_at: float | None = None
    anomaly: dict[str, Any] | None = None
    acted_at: float | None = None
    action: dict[str, Any] | None = None
    recovered_at: float | None = None
    recovered_via: str | None = None
    fault_gone_at: float | None = None
    other_actions: list[dict[str, Any]] = field(default_factory=list)
    failed_phase: str | None = None
    message: str = ""

    def after(self, ts: float | None) -> float | None:
        return None if ts is None else round(ts - self.injected_at, 2)

    @property
    def closed(self) -> bool:
        return self.failed_phase is None and self.recovered_at is not None

    def to_dict(self) -> dict[str, Any]:
        anomaly = self.anomaly or {}
        action = self.action or {}
        trigger = action.get("trigger") or {}
        return {
            "scenario": self.scenario,
            "service": self.service,
            "metric": self.metric,
            "dry_run": self.dry_run,
            "injected_at": round(self.injected_at, 3),
            "time_to_detect_s": self.after(self.detected_at),
            "time_to_act_s": self.after(self.acted_at),
            "time_to_recover_s": self.after(self.recovered_at),
            "closed": self.closed,
            "failed_phase": self.failed_phase,
            "message": self.message,
            "anomaly": {
                "id": anomaly.get("id"),
                "severity": anomaly.get("peak_severity") or anomaly.get("severity"),
                "kind": anomaly.get("kind"),
                "summary": anomaly.get("summary"),
            }
            if self.anomaly
            else None,
            "action": {
                "id": action.get("id"),
                "action": action.get("action"),
                "policy": action.get("policy"),
                "target": action.get("target"),
                "outcome": action.get("outcome"),
                "verification": action.get("verification"),
                "trigger_anomaly_id": trigger.get("anomaly_id"),
            }
            if self.action
            else None,
            "recovered_via": self.recovered_via,
            "fault_gone_after_s": self.after(self.fault_gone_at),
            "other_actions": [
                {
                    "action": a.get("action"),
                    "outcome": a.get("outcome"),
                    "reason": a.get("reason"),
                    "policy": a.get("policy"),
                }
                for a in self.other_actions[:10]
            ],
        }
