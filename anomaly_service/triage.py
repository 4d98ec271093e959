"""The triage packet of one anomaly (pure): what, when, where, impact, recent changes, suspected
cause and next step, so a human can decide in a minute. The adapters that read Prometheus and
the policy engine hand their answers in; a part they could not get says why, never guesses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from anomaly_service.catalog import MetricSpec

CHANGES_WINDOW_S = 1800.0  # "recent changes": the last 30 minutes
# increase() needs two scrapes in its window: a younger anomaly's impact is read over this much.
MIN_IMPACT_WINDOW_S = 30.0
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def impact_window(start: float, end: float) -> float:
    return max(MIN_IMPACT_WINDOW_S, round(end - start))


def _selector(service: str) -> str:
    """The label matchers of one service's series; the name is checked (no PromQL injection)."""
    if not _LABEL_VALUE.match(service):
        raise ValueError(f"not a service name: {service[:60]!r}")
    return f'job="services", service="{service}"'


def impact_queries(service: str, window_s: float) -> tuple[str, str]:
    """Requests and failed (5xx) requests the service served in the last `window_s` seconds."""
    window = f"{max(1, round(window_s))}s"
    selector = _selector(service)
    total = f"sum(increase(http_server_request_duration_seconds_count{{{selector}}}[{window}]))"
    failed = (
        "sum(increase(http_server_request_duration_seconds_count"
        f'{{{selector}, status_code=~"5.."}}[{window}]))'
    )
    return total, failed


def restarts_query(service: str) -> str:
    """Each replica's process start time: a restart or redeploy moves it."""
    return f"max by (container) (process_start_time_seconds{{{_selector(service)}}})"


@dataclass
class Part:
    """One part an adapter fetched: its value, or why it could not be had."""

    value: Any = None
    unavailable: str | None = None


@dataclass
class TriageInputs:
    anomaly: dict[str, Any]
    spec: MetricSpec | None
    now: float
    replicas: tuple[int, int] | None = None
    # value: (requests, failed, window_s): since opening, or over the minimum window
    impact: Part = field(default_factory=Part)
    starts: Part = field(default_factory=Part)  # value: {container: start time}
    actions: Part = field(default_factory=Part)  # value: the policy engine's action records
    policies: Part = field(default_factory=Part)  # value: the policy engine's /status "policies"
    engine: Part = field(default_factory=Part)  # value: the policy engine's /status
    plan: Part = field(default_factory=Part)  # value: the policy engine's /plan for the service
    docker: Part = field(default_factory=Part)  # value: the policy engine's /changes items


def _what(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "signal": a["metric"],
        "kind": a["kind"],
        "value": a.get("value"),
        "baseline": a.get("baseline"),
        "band": [a.get("lower"), a.get("upper")],
        "unit": a.get("unit", ""),
        "severity": a["severity"],
        "peak_severity": a.get("peak_severity"),
        "peak_value": a.get("peak_value"),
        "summary": a.get("summary", ""),
    }


def _impact(inputs: TriageInputs) -> dict[str, Any]:
    a, spec = inputs.anomaly, inputs.spec
    floor = spec.floor if spec is not None else None
    out: dict[str, Any] = {
        "slo": {"floor": floor, "crossed": a.get("peak_severity") == "critical"},
        "since": a["opened_at"],
    }
    if inputs.impact.unavailable is not None:
        out["unavailable"] = inputs.impact.unavailable
    else:
        requests, failed, window = inputs.impact.value or (None, None, None)
        out["requests"], out["failed_requests"], out["window_s"] = requests, failed, window
    return out


def _changes(inputs: TriageInputs) -> dict[str, Any]:
    since = inputs.now - CHANGES_WINDOW_S
    items: list[dict[str, Any]] = []
    unavailable: dict[str, str] = {}
    if inputs.actions.unavailable is not None:
        unavailable["relia_actions"] = inputs.actions.unavailable
    for record in inputs.actions.value or []:
        items.append(
            {
                "at": record.get("created_at"),
                "source": "relia",
                "what": f"{record.get('action')} by {record.get('policy')}: "
                f"{record.get('outcome')}"
                + (f" ({record['reason']})" if record.get("reason") else ""),
                "action_id": record.get("id"),
            }
        )
    if inputs.docker.unavailable is None:
        items.extend(_docker_change(c) for c in inputs.docker.value or [])
    else:
        # Without the Docker events, the processes' own start times still show (re)starts.
        unavailable["docker_events"] = inputs.docker.unavailable
        if inputs.starts.unavailable is not None:
            unavailable["container_starts"] = inputs.starts.unavailable
        for container, started in sorted((inputs.starts.value or {}).items()):
            if started >= since:
                items.append(
                    {"at": started, "source": "container", "what": f"{container} (re)started"}
                )
    if inputs.policies.unavailable is not None:
        unavailable["policy_versions"] = inputs.policies.unavailable
    policies = inputs.policies.value or {}
    if policies.get("loaded_at") and policies["loaded_at"] >= since:
        items.append(
            {
                "at": policies["loaded_at"],
                "source": "policies",
                "what": f"policies version {policies.get('version')} loaded",
            }
        )
    items.sort(key=lambda c: c["at"] or 0.0, reverse=True)
    return {"since": since, "items": items, "unavailable": unavailable}


def _docker_change(change: dict[str, Any]) -> dict[str, Any]:
    what = f"{change.get('container')} {change.get('action')}"
    if change.get("exit_code") is not None:
        what += f" (exit {change['exit_code']})"
    if change.get("image"):
        what += f", image {change['image']}"
    return {"at": change.get("at"), "source": "docker", "what": what}


def _cause(a: dict[str, Any]) -> dict[str, Any]:
    caused_by = list(a.get("caused_by", []))
    seen = list(a.get("caused_by_seen", []))
    if caused_by:
        summary = f"victim of {', '.join(caused_by)}"
        roots = a.get("root_causes") or caused_by
        if roots != caused_by:
            summary += f" (root: {', '.join(roots)})"
    elif seen:
        # its culprit's evidence has passed, not its culprit: an own fault would be a guess
        summary = f"was a victim of {', '.join(seen)} earlier; no dependency explains it now"
    else:
        summary = f"no dependency explains it: a fault of {a['service']} itself"
    return {
        "caused_by": caused_by,
        "caused_by_seen": seen,
        "root_causes": list(a.get("root_causes", [])),
        "evidence": list(a.get("cause_evidence", [])),
        "summary": summary,
    }


def _next_step(inputs: TriageInputs) -> dict[str, Any]:
    a, spec = inputs.anomaly, inputs.spec
    step: dict[str, Any] = {"runbook": spec.runbook if spec is not None and spec.runbook else None}
    if a.get("status") == "resolved":
        step["summary"] = "resolved: nothing to do"
        return step
    if a.get("caused_by"):
        step["summary"] = (
            f"look at {', '.join(a.get('root_causes') or a['caused_by'])} first: "
            f"{a['service']} is its victim"
        )
    engine = inputs.engine.value or {}
    if inputs.engine.unavailable is not None:
        step["remediation"] = f"unknown: {inputs.engine.unavailable}"
    elif engine.get("enabled") is False:
        step["remediation"] = "paused: the policy engine will not act until it is re-enabled"
    else:
        step["remediation"] = "enabled"
    # Which policy will act and when, or why none will: the policy engine's own answer.
    planned = inputs.plan.value if isinstance(inputs.plan.value, dict) else None
    step["policy_plan"] = planned
    if planned is None:
        step["plan_unavailable"] = inputs.plan.unavailable or "no plan"
    if "summary" not in step:
        step["summary"] = (
            str(planned.get("summary")) if planned else f"{a['service']} itself: its own policies"
        )
    return step


def build(inputs: TriageInputs) -> dict[str, Any]:
    a = inputs.anomaly
    end = a.get("resolved_at") or inputs.now
    up, total = inputs.replicas if inputs.replicas is not None else (None, None)
    return {
        "id": a["id"],
        "what": _what(a),
        "when": {
            "opened_at": a["opened_at"],
            "resolved_at": a.get("resolved_at"),
            "duration_s": max(0.0, end - a["opened_at"]),
            "status": a.get("status"),
        },
        "where": {
            "service": a["service"],
            "labels": a.get("labels", {}),
            "replicas_up": up,
            "replicas_total": total,
        },
        "impact": _impact(inputs),
        "changes": _changes(inputs),
        "suspected_cause": _cause(a),
        "next_step": _next_step(inputs),
    }
