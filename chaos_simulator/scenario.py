"""Pure scenario logic: what each scenario does and how observations become a timeline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from relia_contracts.severity import SEVERITY_RANK

RESTART = ("restart_container",)
SCALE_UP = ("scale_up",)


@dataclass(frozen=True)
class Scenario:
    name: str
    service: str
    metric: str  # the anomaly-service signal the fault must move (contracts.md names)
    actions: tuple[str, ...]  # policy actions that close the loop
    fault: dict[str, Any] | None  # POST /chaos body; None = the overload is traffic itself
    description: str


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "latency-restart",
            "orders",
            "latency",
            RESTART,
            {"kind": "latency", "ms": 800, "jitter_ms": 100},
            "800 ms latency on orders until restart; expects a restart_container",
        ),
        Scenario(
            "errors-restart",
            "payments",
            "error_rate",
            RESTART,
            {"kind": "errors", "rate": 0.5, "status": 500},
            "50% HTTP 500 on payments until restart; expects a restart_container",
        ),
        Scenario(
            "cpu-scale",
            "orders",
            "cpu",
            SCALE_UP,
            None,
            "CPU-bound overload of orders (concurrent order creation); expects a scale_up",
        ),
    )
}


@dataclass(frozen=True)
class ScenarioOptions:
    warmup_timeout_s: float = 180.0
    detect_timeout_s: float = 90.0
    act_timeout_s: float = 60.0
    recover_timeout_s: float = 120.0
    expect_dry_run: bool = False
    poll_s: float = 1.0
    # Wait at most this long for a closing policy's cooldown before injecting; 0: do not wait.
    cooldown_timeout_s: float = 330.0


class ScenarioAbort(Exception):
    """The scenario cannot run (platform paused, wrong mode, never warmed up)."""


def check_mode(enabled: bool, dry: bool, opts: ScenarioOptions) -> None:
    """Abort when the policy engine is paused, or its dry-run mode is not the expected one."""
    if not enabled:
        raise ScenarioAbort("remediation is paused on the policy engine (POST /toggle to resume)")
    if dry and not opts.expect_dry_run:
        raise ScenarioAbort(
            "the policy engine is in dry-run: its actions change nothing, so the loop cannot "
            "close; pass --expect-dry-run to accept a dry_run action record as 'act'"
        )
    if not dry and opts.expect_dry_run:
        raise ScenarioAbort(
            "--expect-dry-run given but the policy engine acts for real (dry_run is false): "
            "drop the flag, or set DRY_RUN=true on the engine"
        )


def closing_policies(items: list[dict[str, Any]], scenario: Scenario) -> list[dict[str, Any]]:
    """The enabled policies that could close the scenario's loop: its action, on its service,
    with a condition that reads its signal (an error-rate restart does not answer latency)."""
    reads_metric = re.compile(rf"\b{re.escape(scenario.metric)}\b")
    return [
        p
        for p in items
        if p.get("service") in (scenario.service, None, "*")
        and p.get("action") in scenario.actions
        and p.get("enabled", True)
        and (not p.get("condition") or reads_metric.search(str(p["condition"])))
    ]


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def match_anomaly(
    anomalies: list[dict[str, Any]], service: str, metric: str, since: float
) -> dict[str, Any] | None:
    """The earliest anomaly on (service, metric) opened at or after `since`."""
    found = [
        a
        for a in anomalies
        if a.get("service") == service
        and a.get("metric") == metric
        and (_num(a.get("opened_at")) or 0.0) >= since
    ]
    return min(found, key=lambda a: _num(a.get("opened_at")) or 0.0) if found else None


def active_anomalies(anomalies: list[dict[str, Any]], service: str, metric: str) -> list[str]:
    return [
        str(a.get("id"))
        for a in anomalies
        if a.get("service") == service and a.get("metric") == metric and a.get("status") == "active"
    ]


def match_action(
    actions: list[dict[str, Any]],
    service: str,
    wanted: tuple[str, ...],
    since: float,
    expect_dry_run: bool,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the earliest action that closes the loop, other records for the service since then).
    A dry_run record only counts when the engine is expected to be in dry-run."""
    good = {"dry_run"} if expect_dry_run else {"succeeded"}
    recent = [
        a
        for a in actions
        if a.get("service") == service and (_num(a.get("created_at")) or 0.0) >= since
    ]
    recent.sort(key=lambda a: _num(a.get("created_at")) or 0.0)
    for record in recent:
        if record.get("action") in wanted and record.get("outcome") in good:
            return record, [r for r in recent if r is not record]
    return None, recent


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
