"""Pure scenario logic: what each scenario does, and which anomaly, action, series and policy
view answer it (the `chaos scenario` command and the e2e suite judge with these). The timeline
that observations become is in timeline.py."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

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
    anomalies: list[dict[str, Any]],
    service: str,
    metric: str,
    since: float,
    caused_by: str | None = None,
) -> dict[str, Any] | None:
    """The earliest anomaly on (service, metric) opened at or after `since`; with `caused_by`,
    only one the anomaly service attributes to that service (a victim's, named by its cause)."""
    found = [
        a
        for a in anomalies
        if a.get("service") == service
        and a.get("metric") == metric
        and (_num(a.get("opened_at")) or 0.0) >= since
        and (caused_by is None or caused_by in (a.get("caused_by") or ()))
    ]
    return min(found, key=lambda a: _num(a.get("opened_at")) or 0.0) if found else None


def active_anomalies(anomalies: list[dict[str, Any]], service: str, metric: str) -> list[str]:
    return [
        str(a.get("id"))
        for a in anomalies
        if a.get("service") == service and a.get("metric") == metric and a.get("status") == "active"
    ]


def closing_outcomes(expect_dry_run: bool) -> frozenset[str]:
    """The outcomes that close a loop: a real success, or a dry_run record when the engine is
    expected to be in dry-run."""
    return frozenset({"dry_run"} if expect_dry_run else {"succeeded"})


def _since(actions: list[dict[str, Any]], service: str, since: float) -> list[dict[str, Any]]:
    """The service's records created at or after `since`, oldest first."""
    recent = [
        a
        for a in actions
        if a.get("service") == service and (_num(a.get("created_at")) or 0.0) >= since
    ]
    recent.sort(key=lambda a: _num(a.get("created_at")) or 0.0)
    return recent


def matching_actions(
    actions: list[dict[str, Any]],
    service: str,
    wanted: tuple[str, ...],
    since: float,
    outcomes: Collection[str],
) -> list[dict[str, Any]]:
    """Every record of one of the `wanted` actions on `service` since `since` whose outcome
    is one of `outcomes`, oldest first."""
    return [
        r
        for r in _since(actions, service, since)
        if r.get("action") in wanted and r.get("outcome") in outcomes
    ]


def match_action(
    actions: list[dict[str, Any]],
    service: str,
    wanted: tuple[str, ...],
    since: float,
    expect_dry_run: bool,
    outcomes: Collection[str] | None = None,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the earliest action that closes the loop, other records for the service since then).
    The outcomes that count are `outcomes`, by default closing_outcomes(expect_dry_run)."""
    good = closing_outcomes(expect_dry_run) if outcomes is None else outcomes
    recent = _since(actions, service, since)
    found = matching_actions(recent, service, wanted, since, good)
    if not found:
        return None, recent
    return found[0], [r for r in recent if r is not found[0]]


def warm_series(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(service, metric) of the `/predict` rows the anomaly service judges: every row of the
    pair past warm-up (before, it holds verdicts at normal, so a fault there goes unseen)."""
    keys = [
        ((str(r.get("service")), str(r.get("metric"))), bool(r.get("warming_up"))) for r in rows
    ]
    return {key for key, _ in keys} - {key for key, warming in keys if warming}


def cooldown_left(view: dict[str, Any]) -> float:
    """Seconds until a policy view is held back by no cooldown: its own, or its target's (one
    restart per target per window: another policy's recent action on the target counts)."""
    own = _num(view.get("cooldown_remaining_s")) or 0.0
    target = _num(view.get("target_cooldown_remaining_s")) or 0.0
    return max(own, target, 0.0)
