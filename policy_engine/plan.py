"""What the engine would do about one service now, without doing it: per enabled policy of the
service, does its condition hold on the freshest snapshot, and if so would the guards let it
act, or why not (paused, cooldown, budget, breaker, a dependency's victim). The triage packet's
"next step" (docs/root-cause.md). Reads state only; no record, no Docker call."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from policy_engine.conditions import Context, evaluate3
from policy_engine.guards import decide
from policy_engine.models import Trigger
from policy_engine.pipeline import Candidate
from policy_engine.policies import Policy

if TYPE_CHECKING:
    from policy_engine.engine import Engine


def _row(
    engine: Engine,
    policy: Policy,
    ctx: Context | None,
    culprits: str,
    version: str,
    now: float,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "policy": policy.name,
        "action": policy.action,
        "condition": policy.condition,
        "for_s": policy.for_s,
    }
    holds = evaluate3(policy.ast, ctx) if ctx is not None else None
    row["condition_holds"] = holds
    if holds is None:
        row["verdict"] = "unknown: no fresh snapshot or a value it reads is missing"
        return row
    if not holds:
        # The same condition for a service that is nobody's victim: does the blame alone hold it?
        row["verdict"] = _why_not(policy, ctx, culprits) or "condition does not hold"
        return row
    trigger = Trigger(source="snapshot", reason="plan")
    candidate = Candidate.of_policy(policy, trigger, version, engine.effective_dry_run)
    decision = decide(engine.pipeline.inputs(candidate, now))
    if not decision.allowed:
        row["verdict"] = f"blocked: {decision.reason}"
        row["detail"] = decision.detail
    elif policy.for_s > 0:
        row["verdict"] = f"will act once the condition has held {policy.for_s:g} s"
    else:
        row["verdict"] = "will act on the next alert or re-check"
    row["would_act"] = decision.allowed
    return row


def _why_not(policy: Policy, ctx: Context | None, culprits: str) -> str | None:
    """Whether a root-cause flag alone holds the condition back (the same condition for a
    service that is nobody's victim, or not under load, would hold)."""
    if ctx is None:
        return None
    if ctx.caused_by_dependency and evaluate3(
        policy.ast, dataclasses.replace(ctx, caused_by_dependency=False)
    ):
        return f"waits: {policy.service} is a victim of {culprits}"
    if ctx.caused_by_load and evaluate3(policy.ast, dataclasses.replace(ctx, caused_by_load=False)):
        return (
            f"waits: {policy.service} is under load (its trouble started with traffic above normal)"
        )
    return None


def plan(engine: Engine, service: str, now: float) -> dict[str, Any]:
    active = engine.policies.active
    if active is None:
        return {"service": service, "policies": [], "summary": "no valid policies loaded"}
    snap = engine.fresh_snapshot()
    ctx = snap.context(service) if snap is not None else None
    blamed = {c for s in (snap.for_service(service) if snap else []) for c in s.caused_by}
    culprits = ", ".join(sorted(blamed)) or "a dependency"
    rows = [
        _row(engine, p, ctx, culprits, active.version, now)
        for p in active.policies
        if p.enabled and p.service == service
    ]
    acting = [r for r in rows if r.get("would_act")]
    if not engine.enabled:
        summary = "paused: nothing will act until remediation is re-enabled (POST /toggle)"
    elif acting:
        summary = "; ".join(f"{r['policy']} ({r['action']}): {r['verdict']}" for r in acting)
    elif any(r["verdict"].startswith(("blocked", "waits")) for r in rows):
        held = [r for r in rows if r["verdict"].startswith(("blocked", "waits"))]
        summary = "none will act now: " + "; ".join(f"{r['policy']} {r['verdict']}" for r in held)
    elif not rows:
        summary = f"no enabled policy for {service}"
    else:
        summary = "no policy's condition holds now"
    return {"service": service, "version": active.version, "policies": rows, "summary": summary}
