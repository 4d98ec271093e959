"""Triggers: when a policy fires. Each turns its input into candidate actions for the pipeline
and decides nothing else (guards, records and execution are the pipeline's).

- `on_webhook` / `on_event`: a firing alert (POST /alerts) against event policies;
- `sustained`: `for` policies held on the snapshot for their whole duration;
- `open_anomalies`: event policies re-checked every cycle while their anomaly stays open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from policy_engine.am_payload import LOOP_LABEL
from policy_engine.conditions import SEVERITIES, Context, evaluate
from policy_engine.events import Event, to_event
from policy_engine.models import AMWebhook, Trigger
from policy_engine.pipeline import Candidate
from policy_engine.policies import Policy
from policy_engine.snapshot import Snapshot

if TYPE_CHECKING:
    from policy_engine.engine import Engine

_SEVERITY_WORDS = {v: k for k, v in SEVERITIES.items()}


def _event_context(event: Event, snap: Snapshot | None, service: str | None) -> Context:
    base = snap.context(service) if snap is not None and service is not None else Context(values={})
    values = dict(base.values)
    if event.metric is not None and (event.value is not None or event.kind == "no_data"):
        # an Alertmanager alert without a usable `value` keeps the snapshot's value
        values[event.metric] = event.value
    return Context(
        values=values,
        severity=event.severity_level,
        no_data=event.kind == "no_data",
        # a victim per the event or per its own cycle's snapshot: either is enough to wait
        caused_by_dependency=bool(event.caused_by) or base.caused_by_dependency,
        caused_by_load=event.caused_by_load or base.caused_by_load,
    )


class Triggers:
    def __init__(self, engine: Engine, recheck_hold_s: float) -> None:
        self.engine = engine
        self.recheck_hold_s = recheck_hold_s
        # (policy, service, condition) -> since when the `for` condition has held
        self.since: dict[tuple[str, str, str], float] = {}
        # (policy, anomaly_id) -> (condition seen false, true since): re-check edges
        self._recheck: dict[tuple[str, str], tuple[bool, float | None]] = {}

    def _candidate(self, policy: Policy, trigger: Trigger, version: str) -> Candidate:
        return Candidate.of_policy(policy, trigger, version, self.engine.effective.dry_run)

    def on_webhook(self, hook: AMWebhook, received_at: float) -> dict[str, Any]:
        """Per alert: a resolve (first delivery) completes verification; a firing alert's
        matching policies go to the pipeline, whose pending records commit in one transaction
        with the alert's dedupe key (a key seen before commits nothing: a duplicate)."""
        engine = self.engine
        summary: dict[str, Any] = {
            "received": len(hook.alerts),
            "duplicates": 0,
            "resolved": 0,
            "ignored": 0,
            "scheduled": [],
            "notes": [],
        }
        for index, alert in enumerate(hook.alerts):
            if LOOP_LABEL in alert.labels:
                # Relia's own output routed back by an Alertmanager: never acts (no loop)
                summary["ignored"] += 1
                summary["notes"].append(f"alert {index}: posted by Relia ({LOOP_LABEL}), ignored")
                continue
            event = to_event(alert)
            engine.metrics.alerts.labels(event.status).inc()
            if event.status == "resolved":
                if engine.store.first_delivery(event.dedupe_key, received_at):
                    summary["resolved"] += 1
                    engine.verifier.on_resolved(event, received_at)
                    continue
                admitted = None
            else:
                candidates = self.on_event(event, received_at)
                admitted = engine.pipeline.admit(candidates, received_at, event.dedupe_key)
                if admitted is not None and event.anomaly_id is not None:
                    engine.am.forward_anomaly(alert)
            if admitted is None:
                summary["duplicates"] += 1
                engine.metrics.duplicates.inc()
                continue
            if not admitted:
                summary["ignored"] += 1
                summary["notes"].append(f"alert {index}: {self.why_ignored(event)}")
            summary["scheduled"].extend(
                {
                    "id": a.record.id,
                    "policy": a.record.policy,
                    "action": a.record.action,
                    "service": a.record.service,
                }
                for a in admitted
            )
        return summary

    def on_event(self, event: Event, received_at: float) -> list[Candidate]:
        """Event policies of the event's service whose condition holds on this event."""
        active = self.engine.policies.active
        if active is None:
            return []
        labels = event.label_map
        matched = {
            p.name for p in active.policies if p.alert is not None and p.alert.matches(labels)
        }
        if event.service is None and not matched:
            return []
        snap = self.engine.fresh_snapshot()
        contexts: dict[str | None, Context] = {}

        def context_of(service: str | None) -> Context:
            """The event's values over `service`'s snapshot (an `alert:` policy is judged on
            its own target's signals, whatever service the alert names)."""
            if service not in contexts:
                contexts[service] = _event_context(event, snap, service)
            return contexts[service]

        out = []
        scheduled = self.engine.pipeline.scheduled
        for policy in active.policies:
            if not _watches(policy, event, matched):
                continue
            target = policy.service if policy.alert is not None else event.service
            if not evaluate(policy.ast, context_of(target)):
                continue
            if event.anomaly_id is not None and (policy.name, event.anomaly_id) in scheduled:
                continue  # the snapshot re-check already scheduled this policy for this anomaly
            trigger = _alert_trigger(event, received_at)
            out.append(self._candidate(policy, trigger, active.version))
        return out

    def why_ignored(self, event: Event) -> str:
        if self.engine.policies.active is None:
            return "no valid policies loaded"
        if event.service is None:
            return "no service label (service, compose_service, ...): matches no policy"
        metric = event.metric or "unknown metric"
        return f"no enabled event policy for {event.service} matched ({metric}, {event.severity})"

    def sustained(self, now: float, snap: Snapshot | None) -> list[Candidate]:
        """`for` policies: act once the condition has held for the whole duration."""
        active = self.engine.policies.active
        if active is None or snap is None:
            self.since.clear()  # no data is not "still true": start over when data returns
            return []
        out = []
        live_keys = set()
        for policy in active.policies:
            if not policy.enabled or policy.for_s <= 0:
                continue
            key = (policy.name, policy.service, policy.condition)
            live_keys.add(key)
            ctx = snap.context(policy.service)
            if not evaluate(policy.ast, ctx):
                self.since.pop(key, None)
                continue
            since = self.since.setdefault(key, now)
            if now - since < policy.for_s:
                continue
            self.since[key] = now  # the next attempt needs another full `for` window
            metric = sorted(policy.metrics)[0] if policy.metrics else None
            series = next((s for s in snap.for_service(policy.service) if s.metric == metric), None)
            trigger = Trigger(
                anomaly_id=series.anomaly_id if series else None,
                metric=metric,
                severity=_SEVERITY_WORDS.get(ctx.severity) if ctx.severity is not None else None,
                value=ctx.values.get(metric) if metric else None,
                source="snapshot",
                received_at=now,
                reason=f"'{policy.condition}' held for {policy.for_s:.0f} s",
            )
            out.append(self._candidate(policy, trigger, active.version))
        for key in list(self.since):
            if key not in live_keys:
                del self.since[key]
        return out

    def open_anomalies(
        self, now: float, snap: Snapshot | None, may_act: Callable[[Policy, str], bool]
    ) -> list[Candidate]:
        """Event policies, re-checked each cycle while their anomaly stays open: an anomaly that
        opened below a policy's threshold (memory 150 MB < 300 MB) acts once it crosses it.
        Only a policy that has not yet acted on that anomaly fires (a skip, e.g. grace or pause,
        does not count), and it silently waits out its cooldown (`may_act`).

        A condition that was false during the anomaly and turns true must hold for
        `recheck_hold_s` first: the signals' windows disagree for up to 15 s when load changes
        (at the end of a spike, CPU has fallen while p99 still counts the slow requests)."""
        active = self.engine.policies.active
        if active is None or snap is None:
            return []
        out = []
        live: set[tuple[str, str]] = set()
        for policy in active.policies:
            if not policy.enabled or policy.for_s > 0 or policy.alert is not None:
                continue
            open_series = [
                s
                for s in snap.for_service(policy.service)
                if s.anomaly_id is not None
                and s.kind is not None
                and (not policy.metrics or s.metric in policy.metrics)
            ]
            if not open_series:
                continue
            series = max(open_series, key=lambda s: s.level)
            key = (policy.name, str(series.anomaly_id))
            live.add(key)
            holds = evaluate(policy.ast, snap.context(policy.service))
            if not self._condition_settled(key, holds, now):
                continue
            if not may_act(policy, str(series.anomaly_id)):
                continue
            trigger = Trigger(
                anomaly_id=series.anomaly_id,
                metric=series.metric,
                value=series.value,
                severity=series.severity,
                kind=series.kind,
                source="snapshot",
                received_at=now,
                reason="open anomaly crossed the policy's threshold",
            )
            out.append(self._candidate(policy, trigger, active.version))
        for key in list(self._recheck):
            if key not in live:
                del self._recheck[key]
        return out

    def _condition_settled(self, key: tuple[str, str], holds: bool, now: float) -> bool:
        """True once a re-checked condition may act: it held since the anomaly was first seen,
        or it turned true at least `recheck_hold_s` ago."""
        was_false, true_since = self._recheck.get(key, (False, None))
        if not holds:
            self._recheck[key] = (True, None)
            return False
        true_since = now if true_since is None else true_since
        self._recheck[key] = (was_false, true_since)
        return not was_false or now - true_since >= self.recheck_hold_s


def _watches(policy: Policy, event: Event, matched: set[str]) -> bool:
    """Whether an event is one an enabled event policy acts on (before its condition)."""
    # `for` policies are decided by the periodic snapshot evaluation, not by single events
    if not policy.enabled or policy.for_s > 0:
        return False
    if policy.alert is not None:
        # an `alert:` policy acts on the alerts its matcher names, whatever their service
        # label: its own `service` is the target
        return policy.name in matched
    if policy.service != event.service:
        return False
    # an event about another signal than this policy watches is not its business
    return not policy.metrics or event.metric in policy.metrics


def _alert_trigger(event: Event, received_at: float) -> Trigger:
    return Trigger(
        anomaly_id=event.anomaly_id,
        fingerprint=event.fingerprint,
        alertname=event.alertname,
        metric=event.metric,
        severity=event.severity,
        value=event.value,
        kind=event.kind,
        source="alert",
        received_at=received_at,
        # an external alert's own labels; an anomaly's are in the anomaly service
        labels=event.label_map if event.anomaly_id is None else {},
    )
