"""Verification of acted remediations and the per-target circuit breaker, in one place.

Verification: a real Docker action triggered by an anomaly or a sustained condition is
`pending` until its resolve arrives (succeeded) or its window passes (the snapshot decides).
Its result feeds the breaker; the breaker's state is written only here.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from policy_engine.conditions import SEVERITIES, evaluate
from policy_engine.events import Event
from policy_engine.guards import (
    BreakerState,
    breaker_effective,
    breaker_on_attempt,
    breaker_on_result,
)
from policy_engine.models import ActionRecord, Trigger
from policy_engine.pipeline import new_action_id
from policy_engine.policies import DOCKER_ACTIONS

if TYPE_CHECKING:
    from policy_engine.engine import Engine

log = logging.getLogger("policy_engine")


class Breakers:
    """Every write of a breaker's state: attempt, no-op give-back, verified result."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    def on_attempt(self, target: str, now: float) -> None:
        """An action is going out; in half-open it is the single trial."""
        cfg = self.engine.effective.breaker
        self.store.set_breaker(target, breaker_on_attempt(self.store.breaker(target), cfg, now))

    def give_back_trial(self, target: str) -> None:
        """Nothing was done (no-op, or a crash cut it short): the trial is still available."""
        state = self.store.breaker(target)
        if state.trial_in_flight:
            self.store.set_breaker(target, replace(state, trial_in_flight=False))

    def feed(self, target: str, good: bool, now: float) -> None:
        cfg = self.engine.effective.breaker
        state, opened = breaker_on_result(self.store.breaker(target), good, cfg, now)
        self.store.set_breaker(target, state)
        self.publish()
        if opened:
            log.warning("circuit breaker opened for %s after %d failures", target, state.failures)
            trigger = Trigger(
                source="breaker",
                received_at=now,
                reason=f"{state.failures} remediations did not help",
            )
            self.engine.escalate(target, trigger)

    def publish(self) -> None:
        now = self.engine.clock()
        cfg = self.engine.effective.breaker
        for target, state in self.store.breakers().items():
            self.engine.metrics.breaker_open.labels(target).set(
                1 if breaker_effective(state, cfg, now) == "open" else 0
            )

    def reset(self, target: str, reason: str, actor: str) -> ActionRecord | None:
        """An operator closes the breaker now instead of waiting out `open_for`: failures and
        any half-open trial are cleared, and the audit log says who, when, why and from what.
        None when the target has no breaker state worth resetting (closed, no failures)."""
        now = self.engine.clock()
        state = self.store.breaker(target)
        effective = breaker_effective(state, self.engine.effective.breaker, now)
        if effective == "closed" and state.failures == 0:
            return None
        self.store.set_breaker(target, BreakerState())
        self.publish()
        active = self.engine.policies.active
        record = ActionRecord(
            id=new_action_id(),
            created_at=now,
            finished_at=now,
            policy="operator",
            policy_version=active.version if active else None,
            action="breaker_reset",
            service=target,
            manual=True,
            outcome="succeeded",
            params={
                "by": actor,
                "previous": {
                    "state": effective,
                    "failures": state.failures,
                    "opened_at": state.opened_at,
                },
            },
            trigger=Trigger(source="manual", received_at=now, reason=reason),
            detail=f"breaker {effective} -> closed by {actor} ({state.failures} failures cleared)",
        )
        self.store.save_action(record)
        self.engine.metrics.actions.labels("operator", "breaker_reset", "succeeded").inc()
        log.warning("circuit breaker for %s reset by %s: %s", target, actor, reason)
        return record

    def view(self, target: str) -> dict[str, Any]:
        state = self.store.breaker(target)
        eff = breaker_effective(state, self.engine.effective.breaker, self.engine.clock())
        return {"state": eff, "failures": state.failures, "opened_at": state.opened_at}


class Verifier:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    def pending(self, record: ActionRecord, now: float | None = None) -> dict[str, Any]:
        """Fields of a succeeded Docker action: verification pending until a window from now."""
        if record.trigger.source not in ("alert", "snapshot"):
            return {"verification": "not_applicable", "verify_by": None}
        start = self.engine.clock() if now is None else now
        return {
            "verification": "pending",
            "verify_by": start + self.engine.effective.verification_window_s,
        }

    def on_resolved(self, event: Event, now: float) -> None:
        for record in self.store.pending_verifications():
            same = record.trigger.fingerprint == event.fingerprint or (
                event.anomaly_id is not None and record.trigger.anomaly_id == event.anomaly_id
            )
            if same and record.created_at <= now:
                self.finish(record, "succeeded", now, "anomaly resolved")

    def due(self, now: float) -> None:
        """Pending verifications whose window has passed: still abnormal -> ineffective."""
        snap = self.engine.fresh_snapshot()
        active = self.engine.policies.active
        for record in self.store.pending_verifications():
            if record.verify_by is None or now < record.verify_by:
                continue
            window = record.verify_by - record.created_at
            if snap is None:
                if now >= record.verify_by + window:
                    self.finish(
                        record, "ineffective", now, "no anomaly snapshot to confirm recovery"
                    )
                continue
            if record.action == "scale_down":
                # success = fewer replicas did not hurt: nothing on the service is abnormal
                ctx = snap.context(record.service)
                still = ctx.no_data or (ctx.severity or 0) >= SEVERITIES["warning"]
            elif record.trigger.source == "snapshot" and record.trigger.anomaly_id is None:
                policy = active.by_name(record.policy) if active else None
                still = policy is not None and evaluate(policy.ast, snap.context(record.service))
            elif record.trigger.anomaly_id is None and record.trigger.metric is None:
                # an outside alert we cannot find in the snapshot: only its resolve proves success
                still = True
            else:
                still = snap.anomaly_open(
                    record.trigger.anomaly_id, record.service, record.trigger.metric
                )
            if still:
                self.finish(record, "ineffective", now, "still abnormal after window")
            else:
                self.finish(record, "succeeded", now, "signal back to normal")

    def finish(self, record: ActionRecord, result: str, now: float, why: str) -> None:
        updated = record.model_copy(
            update={
                "verification": result,
                "verified_at": now,
                "detail": f"{record.detail or ''}; verification: {why}".lstrip("; "),
            }
        )
        self.store.save_action(updated)
        self.engine.metrics.verifications.labels(result).inc()
        if record.action in DOCKER_ACTIONS and not record.manual:
            self.engine.breakers.feed(record.service, result == "succeeded", now)
