"""The control loop: policies x events/snapshot -> guards -> actuator/webhook -> audit, verify.

Triggers decide when (events, sustained `for` conditions, operators); `_run` only acts, through
the Actuator protocol or the webhook notifier, with a timeout, off the evaluation path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from policy_engine.actuator.types import (
    ActionOutcome,
    Actuator,
    ContainerInfo,
    RestartParams,
    ScaleParams,
)
from policy_engine.conditions import SEVERITIES, Context, evaluate
from policy_engine.config import Settings
from policy_engine.events import Event, to_event
from policy_engine.guards import (
    GuardInputs,
    breaker_allows,
    breaker_effective,
    breaker_on_attempt,
    breaker_on_result,
    budget_check,
    cooldown_remaining,
    decide,
    grace_remaining,
)
from policy_engine.metrics import EngineMetrics
from policy_engine.models import ActionRecord, AMWebhook, Trigger
from policy_engine.notifier import WebhookNotifier
from policy_engine.policies import (
    DOCKER_ACTIONS,
    MAX_FILE_BYTES,
    FieldError,
    GlobalSettings,
    Policy,
    PolicySet,
    load_policies,
    version_of,
)
from policy_engine.reload_thread import reload_off_loop
from policy_engine.snapshot import Snapshot, SnapshotClient
from policy_engine.store import Store

log = logging.getLogger("policy_engine")
_SEVERITY_WORDS = {v: k for k, v in SEVERITIES.items()}
LAST_GOOD_KEY = "policies.last_good"
ENABLED_KEY = "remediation.enabled"


@dataclass
class PolicyStatus:
    """The active set plus what the file on disk looks like right now."""

    active: PolicySet | None = None
    errors: list[FieldError] = field(default_factory=list)
    loaded_at: float | None = None
    file_hash: str | None = None
    file_version: str | None = None
    from_store: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors


def new_action_id() -> str:
    return "act-" + uuid.uuid4().hex[:16]


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        actuator: Actuator,
        snapshots: SnapshotClient,
        notifier: WebhookNotifier,
        metrics: EngineMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.actuator = actuator
        self.snapshots = snapshots
        self.notifier = notifier
        self.metrics = metrics
        self.clock = clock
        self.policies = PolicyStatus()
        self.snapshot: Snapshot | None = None
        self.docker_reachable: bool | None = None
        self.last_evaluation_at: float | None = None
        self._busy: set[str] = set()
        self._since: dict[tuple[str, str, str], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_prune = 0.0
        self._ping_task: asyncio.Task[Any] | None = None
        self._scheduled: set[tuple[str, str | None]] = set()  # (policy, anomaly_id) not yet run
        # (policy, anomaly_id) -> (condition seen false, true since): re-check edges
        self._recheck: dict[tuple[str, str], tuple[bool, float | None]] = {}
        self.metrics.dry_run.set(1 if settings.dry_run else 0)
        self.metrics.enabled.set(1 if self.enabled else 0)

    # policies ------------------------------------------------------------------------------

    @property
    def file(self) -> str:
        return str(self.settings.policies_file)

    @property
    def global_settings(self) -> GlobalSettings:
        active = self.policies.active
        return active.settings if active is not None else GlobalSettings()

    def start(self) -> None:
        """First load: the file if valid, else the last good set persisted by a previous run."""
        self.reload()
        if self.policies.active is None:
            saved = self.store.get(LAST_GOOD_KEY)
            if saved is not None:
                active, _errors = load_policies(saved.encode(), self.file)
                if active is not None:
                    self.policies.active = active
                    self.policies.from_store = True
                    self.policies.loaded_at = self.clock()
                    log.warning("policies file invalid; running last good set %s", active.version)
        self._publish_policy_metrics()

    def reload(self, force: bool = False) -> PolicyStatus:
        """Re-read the file; a valid change takes effect, an invalid one only reports errors."""
        path = Path(self.file)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"file is larger than {MAX_FILE_BYTES} bytes")
            data = path.read_bytes()
        except (OSError, ValueError) as exc:
            digest = "unreadable:" + str(exc)
            if digest != self.policies.file_hash or force:
                self.policies.file_hash = digest
                self.policies.file_version = None
                self.policies.errors = [FieldError(self.file, None, "file", f"cannot read: {exc}")]
                self.metrics.reloads.labels("invalid").inc()
                log.error("policies file unreadable: %s", exc)
            self._publish_policy_metrics()
            return self.policies
        return self.apply(data, force)

    def apply(self, data: bytes, force: bool = False) -> PolicyStatus:
        """Validate file content; valid -> active (and persisted as last good), else errors only."""
        digest = hashlib.sha256(data).hexdigest()
        if digest == self.policies.file_hash and not force:
            return self.policies
        self.policies.file_hash = digest
        self.policies.file_version = version_of(data)
        active, errors = load_policies(data, self.file)
        if active is None:
            self.policies.errors = errors
            self.metrics.reloads.labels("invalid").inc()
            log.error("policies file invalid, keeping the last good set: %s", errors[0])
        else:
            changed = self.policies.active is None or self.policies.active.version != active.version
            self.policies.active = active
            self.policies.errors = []
            self.policies.from_store = False
            self.policies.loaded_at = self.clock()
            self.store.put(LAST_GOOD_KEY, data.decode("utf-8", errors="replace"))
            self.metrics.reloads.labels("valid").inc()
            if changed:
                log.info("policies %s loaded: %d policies", active.version, len(active.policies))
        self._publish_policy_metrics()
        return self.policies

    def _publish_policy_metrics(self) -> None:
        self.metrics.policies_valid.set(1 if self.policies.valid else 0)
        active = self.policies.active
        self.metrics.policies_count.set(len(active.policies) if active else 0)

    # toggle --------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        raw = self.store.get(ENABLED_KEY)
        return self.settings.auto_remediation_enabled if raw is None else raw == "1"

    def set_enabled(self, value: bool | None) -> bool:
        """Set (or flip when None); persisted and written to the audit log."""
        before = self.enabled
        after = (not before) if value is None else value
        self.store.put(ENABLED_KEY, "1" if after else "0")
        self.metrics.enabled.set(1 if after else 0)
        now = self.clock()
        record = ActionRecord(
            id=new_action_id(),
            created_at=now,
            finished_at=now,
            policy="operator",
            action="toggle",
            service="*",
            manual=True,
            outcome="succeeded",
            params={"enabled": after},
            trigger=Trigger(source="manual"),
            detail=f"remediation {'enabled' if before else 'paused'} -> "
            f"{'enabled' if after else 'paused'}",
            policy_version=self.policies.active.version if self.policies.active else None,
        )
        self.store.save_action(record)
        self.metrics.actions.labels("operator", "toggle", "succeeded").inc()
        return after

    @property
    def effective_dry_run(self) -> bool:
        return self.settings.dry_run or self.global_settings.dry_run

    # inputs --------------------------------------------------------------------------------

    def fresh_snapshot(self) -> Snapshot | None:
        snap = self.snapshot
        if snap is None or self.clock() - snap.fetched_at > self.settings.snapshot_stale_s:
            return None
        return snap

    async def refresh_snapshot(self, cycle_at: float | None, max_age_s: float = 1.0) -> None:
        """Re-read /predict unless the snapshot already shows the cycle at `cycle_at` (the
        event's start), or, when that is unknown, was read within `max_age_s`. An event is sent
        at the end of an anomaly-service cycle, while the periodic poll may hold the previous
        cycle: judging `latency > 0.5 and cpu < 0.3` with this cycle's latency and the last
        cycle's cpu restarted a service at the onset of a load spike, before its CPU showed."""
        now = self.clock()
        held = self.snapshot
        if held is not None:
            if cycle_at is not None and held.cycle_at is not None and held.cycle_at >= cycle_at:
                return
            if cycle_at is None and now - held.fetched_at < max_age_s:
                return
        snap = await self.snapshots.fetch(now)
        if snap is not None:
            self.snapshot = snap

    def handle_webhook(self, hook: AMWebhook, received_at: float) -> dict[str, Any]:
        """Dedupe, feed resolves to verification, match firing alerts to policies, schedule."""
        summary: dict[str, Any] = {
            "received": len(hook.alerts),
            "duplicates": 0,
            "resolved": 0,
            "ignored": 0,
            "scheduled": [],
            "notes": [],
        }
        for index, alert in enumerate(hook.alerts):
            event = to_event(alert)
            self.metrics.alerts.labels(event.status).inc()
            if not self.store.first_delivery(event.dedupe_key, received_at):
                summary["duplicates"] += 1
                self.metrics.duplicates.inc()
                continue
            if event.status == "resolved":
                summary["resolved"] += 1
                self._on_resolved(event, received_at)
                continue
            matched = self._match(event, received_at)
            if not matched:
                summary["ignored"] += 1
                summary["notes"].append(f"alert {index}: {self._why_ignored(event)}")
            summary["scheduled"].extend(matched)
        return summary

    def _match(self, event: Event, received_at: float) -> list[dict[str, str]]:
        active = self.policies.active
        if active is None or event.service is None:
            return []
        snap = self.fresh_snapshot()
        base = snap.context(event.service) if snap is not None else Context(values={})
        values = dict(base.values)
        if event.metric is not None and (event.value is not None or event.kind == "no_data"):
            # an Alertmanager alert without a usable `value` keeps the snapshot's value
            values[event.metric] = event.value
        ctx = Context(values=values, severity=event.severity_level, no_data=event.kind == "no_data")
        scheduled = []
        for policy in active.policies:
            # `for` policies are decided by the periodic snapshot evaluation, not by single events
            if not policy.enabled or policy.for_s > 0 or policy.service != event.service:
                continue
            if policy.metrics and event.metric not in policy.metrics:
                continue  # the event is about another signal than this policy watches
            if not evaluate(policy.ast, ctx):
                continue
            if event.anomaly_id is not None and (policy.name, event.anomaly_id) in self._scheduled:
                continue  # the snapshot re-check already scheduled this policy for this anomaly
            trigger = Trigger(
                anomaly_id=event.anomaly_id,
                fingerprint=event.fingerprint,
                alertname=event.alertname,
                metric=event.metric,
                severity=event.severity,
                value=event.value,
                kind=event.kind,
                source="alert",
                received_at=received_at,
            )
            action_id = new_action_id()
            self._scheduled.add((policy.name, event.anomaly_id))
            self._spawn(self.attempt(action_id, policy, trigger, active.version))
            scheduled.append(
                {
                    "id": action_id,
                    "policy": policy.name,
                    "action": policy.action,
                    "service": policy.service,
                }
            )
        return scheduled

    def _why_ignored(self, event: Event) -> str:
        if self.policies.active is None:
            return "no valid policies loaded"
        if event.service is None:
            return "no service label (service, compose_service, ...): matches no policy"
        metric = event.metric or "unknown metric"
        return f"no enabled event policy for {event.service} matched ({metric}, {event.severity})"

    def _on_resolved(self, event: Event, now: float) -> None:
        for record in self.store.pending_verifications():
            same = record.trigger.fingerprint == event.fingerprint or (
                event.anomaly_id is not None and record.trigger.anomaly_id == event.anomaly_id
            )
            if same and record.created_at <= now:
                self._finish_verification(record, "succeeded", now, "anomaly resolved")

    # the periodic cycle --------------------------------------------------------------------

    async def cycle(self) -> None:
        """One control-loop pass: reload, snapshot, docker ping, `for` policies, verification."""
        started = time.perf_counter()
        now = self.clock()
        await reload_off_loop(self)  # YAML parsing never blocks the event loop
        snap = await self.snapshots.fetch(now)
        if snap is not None:
            self.snapshot = snap
        self.metrics.snapshot_ok.set(1 if self.fresh_snapshot() is not None else 0)
        if self._ping_task is None or self._ping_task.done():
            # off the evaluation path: a hung daemon must not delay `for` policies or verification
            self._ping_task = self._spawn(self._refresh_docker())
        self.evaluate_sustained(self.clock())
        self.evaluate_open_anomalies(self.clock())
        self.verify_due(self.clock())
        self._publish_breakers()
        if now - self._last_prune > 3600:
            self.store.prune_deliveries(now - 7 * 86400)
            self._last_prune = now
        self.last_evaluation_at = self.clock()
        self.metrics.last_cycle.set(self.last_evaluation_at)
        self.metrics.cycle_seconds.observe(time.perf_counter() - started)

    def evaluate_sustained(self, now: float) -> list[str]:
        """`for` policies: act once the condition has held for the whole duration."""
        active = self.policies.active
        snap = self.fresh_snapshot()
        if active is None or snap is None:
            self._since.clear()  # no data is not "still true": start over when data returns
            return []
        fired = []
        live_keys = set()
        for policy in active.policies:
            if not policy.enabled or policy.for_s <= 0:
                continue
            key = (policy.name, policy.service, policy.condition)
            live_keys.add(key)
            ctx = snap.context(policy.service)
            if not evaluate(policy.ast, ctx):
                self._since.pop(key, None)
                continue
            since = self._since.setdefault(key, now)
            if now - since < policy.for_s:
                continue
            self._since[key] = now  # the next attempt needs another full `for` window
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
            action_id = new_action_id()
            self._spawn(self.attempt(action_id, policy, trigger, active.version))
            fired.append(action_id)
        for key in list(self._since):
            if key not in live_keys:
                del self._since[key]
        return fired

    def evaluate_open_anomalies(self, now: float) -> list[str]:
        """Event policies, re-checked each cycle while their anomaly stays open: an anomaly that
        opened below a policy's threshold (memory 150 MB < 300 MB) acts once it crosses it.
        Only a policy that has not yet acted on that anomaly fires (a skip, e.g. grace or pause,
        does not count), and it silently waits out its cooldown.

        A condition that was false during the anomaly and turns true must hold for
        `recheck_hold_s` first: the signals' windows disagree for up to 15 s when load changes
        (at the end of a spike, CPU has fallen while p99 still counts the slow requests)."""
        active = self.policies.active
        snap = self.fresh_snapshot()
        if active is None or snap is None:
            return []
        fired = []
        live: set[tuple[str, str]] = set()
        for policy in active.policies:
            if not policy.enabled or policy.for_s > 0:
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
            if not self._condition_settled(
                key, evaluate(policy.ast, snap.context(policy.service)), now
            ):
                continue
            busy_key = (
                policy.service
                if policy.action in DOCKER_ACTIONS
                else f"alert:{policy.name}:{policy.service}"
            )
            last = self.store.last_acted_at(policy.name, policy.service)
            if busy_key in self._busy or cooldown_remaining(last, policy.cooldown_s, now) > 0:
                continue
            if (policy.name, series.anomaly_id) in self._scheduled or self.store.has_action_for(
                policy.name, str(series.anomaly_id)
            ):
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
            action_id = new_action_id()
            self._scheduled.add((policy.name, series.anomaly_id))
            self._spawn(self.attempt(action_id, policy, trigger, active.version))
            fired.append(action_id)
        for key in list(self._recheck):
            if key not in live:
                del self._recheck[key]
        return fired

    def _condition_settled(self, key: tuple[str, str], holds: bool, now: float) -> bool:
        """True once a re-checked condition may act: it held since the anomaly was first seen,
        or it turned true at least `recheck_hold_s` ago."""
        was_false, true_since = self._recheck.get(key, (False, None))
        if not holds:
            self._recheck[key] = (True, None)
            return False
        true_since = now if true_since is None else true_since
        self._recheck[key] = (was_false, true_since)
        return not was_false or now - true_since >= self.settings.recheck_hold_s

    def verify_due(self, now: float) -> None:
        """Pending verifications whose window has passed: still abnormal -> ineffective."""
        snap = self.fresh_snapshot()
        active = self.policies.active
        for record in self.store.pending_verifications():
            if record.verify_by is None or now < record.verify_by:
                continue
            window = record.verify_by - record.created_at
            if snap is None:
                if now >= record.verify_by + window:
                    self._finish_verification(
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
                self._finish_verification(record, "ineffective", now, "still abnormal after window")
            else:
                self._finish_verification(record, "succeeded", now, "signal back to normal")

    def _finish_verification(self, record: ActionRecord, result: str, now: float, why: str) -> None:
        updated = record.model_copy(
            update={
                "verification": result,
                "verified_at": now,
                "detail": f"{record.detail or ''}; verification: {why}".lstrip("; "),
            }
        )
        self.store.save_action(updated)
        self.metrics.verifications.labels(result).inc()
        if record.action in DOCKER_ACTIONS and not record.manual:
            self._feed_breaker(record.service, result == "succeeded", now)

    def _feed_breaker(self, target: str, good: bool, now: float) -> None:
        cfg = self.global_settings.breaker
        state, opened = breaker_on_result(self.store.breaker(target), good, cfg, now)
        self.store.set_breaker(target, state)
        self._publish_breakers()
        if opened:
            log.warning("circuit breaker opened for %s after %d failures", target, state.failures)
            trigger = Trigger(
                source="breaker",
                received_at=now,
                reason=f"{state.failures} remediations did not help",
            )
            self._spawn(self.escalate(target, trigger))

    def _publish_breakers(self) -> None:
        now = self.clock()
        cfg = self.global_settings.breaker
        for target, state in self.store.breakers().items():
            self.metrics.breaker_open.labels(target).set(
                1 if breaker_effective(state, cfg, now) == "open" else 0
            )

    # acting --------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for running actions (bounded), then cancel what is left."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in pending:
                task.cancel()

    def guard_inputs(
        self,
        policy_name: str,
        action: str,
        service: str,
        budget_key: str,
        cooldown_s: float,
        policy_budget: Any,
        now: float,
        cooldown_action: str | None = None,
    ) -> GuardInputs:
        """Read the persisted state the guards need (pure decision happens in guards.decide)."""
        gs = self.global_settings
        docker = action in DOCKER_ACTIONS
        last = self.store.last_acted_at(policy_name, service, cooldown_action)
        pb = sb = gb = None
        if policy_budget is not None:
            times = self.store.attempt_times(
                now - policy_budget.window_s, policy=policy_name, service=service
            )
            pb = budget_check(times, policy_budget, now)
        if docker and gs.per_service_budget is not None:
            times = self.store.attempt_times(
                now - gs.per_service_budget.window_s, service=service, actions=DOCKER_ACTIONS
            )
            sb = budget_check(times, gs.per_service_budget, now)
        if docker and gs.global_budget is not None:
            times = self.store.attempt_times(
                now - gs.global_budget.window_s, actions=DOCKER_ACTIONS
            )
            gb = budget_check(times, gs.global_budget, now)
        return GuardInputs(
            enabled=self.enabled,
            is_docker_action=docker,
            cooldown_remaining_s=cooldown_remaining(last, cooldown_s, now),
            policy_budget=pb,
            service_budget=sb,
            global_budget=gb,
            breaker_ok=breaker_allows(self.store.breaker(service), gs.breaker, now),
            in_progress=budget_key in self._busy,
        )

    async def attempt(
        self, action_id: str, policy: Policy, trigger: Trigger, version: str
    ) -> ActionRecord:
        key = (policy.name, trigger.anomaly_id)
        self._scheduled.add(key)
        try:
            return await self._attempt(action_id, policy, trigger, version)
        finally:
            self._scheduled.discard(key)

    async def _attempt(
        self, action_id: str, policy: Policy, trigger: Trigger, version: str
    ) -> ActionRecord:
        dry = self.effective_dry_run or policy.dry_run
        return await self._run(
            action_id=action_id,
            policy_name=policy.name,
            action=policy.action,
            service=policy.service,
            params=dict(policy.params),
            trigger=trigger,
            manual=False,
            dry_run=dry,
            version=version,
            cooldown_s=policy.cooldown_s,
            budget=policy.budget,
        )

    async def manual(
        self,
        action: str,
        service: str,
        params: dict[str, Any],
        reason: str,
        container: str | None = None,
    ) -> ActionRecord:
        """An operator's action: same pause, breaker, budgets and grace; a short cooldown."""
        now = self.clock()
        version = self.policies.active.version if self.policies.active else None
        trigger = Trigger(source="manual", received_at=now, reason=reason or None)
        if container is not None:
            params = {**params, "container": container}
        return await self._run(
            action_id=new_action_id(),
            policy_name="manual",
            action=action,
            service=service,
            params=params,
            trigger=trigger,
            manual=True,
            dry_run=self.effective_dry_run,
            version=version,
            cooldown_s=self.global_settings.manual_cooldown_s,
            budget=None,
            cooldown_action=action,
        )

    async def escalate(self, target: str, trigger: Trigger) -> ActionRecord:
        """The breaker opened: tell a human through the alert webhook (no guards but the lock)."""
        version = self.policies.active.version if self.policies.active else None
        return await self._run(
            action_id=new_action_id(),
            policy_name="breaker",
            action="alert",
            service=target,
            params={"message": f"circuit breaker opened for {target}: {trigger.reason}"},
            trigger=trigger,
            manual=False,
            dry_run=False,
            version=version,
            cooldown_s=0.0,
            budget=None,
            bypass_guards=True,
        )

    async def _run(
        self,
        *,
        action_id: str,
        policy_name: str,
        action: str,
        service: str,
        params: dict[str, Any],
        trigger: Trigger,
        manual: bool,
        dry_run: bool,
        version: str | None,
        cooldown_s: float,
        budget: Any,
        cooldown_action: str | None = None,
        bypass_guards: bool = False,
    ) -> ActionRecord:
        now = self.clock()
        record = ActionRecord(
            id=action_id,
            created_at=now,
            policy=policy_name,
            policy_version=version,
            action=action,
            service=service,
            params=params,
            manual=manual,
            dry_run=dry_run,
            trigger=trigger,
            outcome="skipped",
        )
        busy_key = service if action in DOCKER_ACTIONS else f"alert:{policy_name}:{service}"
        if not bypass_guards:
            inputs = self.guard_inputs(
                policy_name, action, service, busy_key, cooldown_s, budget, now, cooldown_action
            )
            decision = decide(inputs)
            if not decision.allowed and self._repeat_skip(record, decision.reason, cooldown_s):
                self.metrics.guard_skips.labels(decision.reason or "").inc()
                return record.model_copy(update={"reason": decision.reason})
            if not decision.allowed:
                if await self._scale_at_bound(record):
                    return record.model_copy(update={"reason": decision.reason})
                return self._save(
                    record, outcome="skipped", reason=decision.reason, detail=decision.detail
                )
        # check-then-mark with no await in between: concurrent triggers cannot both pass
        self._busy.add(busy_key)
        try:
            if action == "alert":
                return await self._alert(record, dry_run)
            return await self._docker(record, dry_run)
        finally:
            self._busy.discard(busy_key)

    async def _scale_at_bound(self, record: ActionRecord) -> bool:
        """A sustained scale condition whose service already sits at its replica bound (quiet
        at min replicas, still cooling down after the last scale-down) is no remediation, so
        a guard's skip of it is not audited either."""
        if record.action not in ("scale_up", "scale_down") or record.trigger.source != "snapshot":
            return False
        try:
            targets = await self._call(
                self.actuator.list_targets(record.service), self.settings.docker_timeout_s
            )
        except Exception:
            return False  # cannot tell: audit the skip
        return bool(targets) and self._scale_bound(record, len(targets)) is not None

    def _repeat_skip(self, record: ActionRecord, reason: str | None, cooldown_s: float) -> bool:
        """A sustained condition re-trying during the same skip writes one record, not one per
        `for` window: the same reason as the last record of (policy, service), recently."""
        if record.trigger.source != "snapshot":
            return False
        last = self.store.last_action(record.policy, record.service)
        quiet_s = max(cooldown_s, 60.0)
        return (
            last is not None
            and last.outcome == "skipped"
            and last.reason == reason
            and record.created_at - last.created_at < quiet_s
        )

    def _save(self, record: ActionRecord, **update: Any) -> ActionRecord:
        final = record.model_copy(update={"finished_at": self.clock(), **update})
        if final.outcome == "skipped" and self._repeat_skip(final, final.reason, 0.0):
            # re-checks of an open anomaly run every cycle: one audit row per skip reason
            self.metrics.guard_skips.labels(final.reason or "").inc()
            return final
        self.store.save_action(final)
        self.metrics.actions.labels(final.policy, final.action, final.outcome).inc()
        if final.outcome == "skipped" and final.reason:
            self.metrics.guard_skips.labels(final.reason).inc()
        return final

    async def _alert(self, record: ActionRecord, dry_run: bool) -> ActionRecord:
        url = (
            record.params.get("url")
            or self.global_settings.alert_url
            or self.settings.alert_webhook_url
        )
        if dry_run:
            return self._save(
                record,
                outcome="dry_run",
                target=url,
                detail=f"would POST an alert to {url or '(no URL configured)'}",
            )
        if not url:
            # nothing was attempted: a missing receiver is configuration, not a delivery failure
            return self._save(
                record,
                outcome="skipped",
                reason="no_webhook",
                detail="alert not sent: no webhook URL configured "
                "(params.url, settings.alert_url or ALERT_WEBHOOK_URL)",
                verification="not_applicable",
            )
        payload = {
            "source": "relia-policy-engine",
            "action_id": record.id,
            "policy": record.policy,
            "service": record.service,
            "message": record.params.get("message")
            or f"{record.policy}: {record.trigger.metric or 'condition'} on {record.service}",
            "trigger": record.trigger.model_dump(),
            "policy_version": record.policy_version,
            "created_at": record.created_at,
        }
        try:
            outcome = await asyncio.wait_for(
                self.notifier.send(url, payload), timeout=self.settings.action_timeout_s
            )
        except TimeoutError:
            return self._save(record, outcome="failed", target=url, error="webhook timed out")
        self.metrics.action_seconds.labels("alert").observe(outcome.duration_ms / 1000)
        return self._save(
            record,
            outcome="succeeded" if outcome.status == "succeeded" else "failed",
            target=url,
            detail=outcome.detail,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
            verification="not_applicable",
        )

    async def _refresh_docker(self) -> None:
        self.docker_reachable = await self._ping()
        self.metrics.docker_up.set(1 if self.docker_reachable else 0)

    async def _ping(self) -> bool:
        try:
            limit = min(5.0, self.settings.docker_timeout_s)
            return bool(await asyncio.wait_for(self.actuator.ping(), timeout=limit))
        except Exception:
            return False

    async def _call(self, coro: Coroutine[Any, Any, Any], timeout_s: float) -> Any:
        return await asyncio.wait_for(coro, timeout=timeout_s)

    async def _docker(self, record: ActionRecord, dry_run: bool) -> ActionRecord:
        service = record.service
        try:
            targets: list[ContainerInfo] = await self._call(
                self.actuator.list_targets(service), self.settings.docker_timeout_s
            )
        except Exception as exc:
            error = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            return self._fail(record, f"cannot list targets: {error}", "docker_unavailable")
        if not targets:
            if not await self._ping():
                why = getattr(self.actuator, "last_error", None)
                error = f"Docker is not reachable: {why}" if why else "Docker is not reachable"
                return self._fail(record, error, "docker_unavailable")
            return self._save(
                record,
                outcome="skipped",
                reason="no_targets",
                detail=f"no eligible container for service '{service}'",
            )
        container = record.params.get("container")
        if container is not None:
            targets = [t for t in targets if container in (t.name, t.id, t.id[:12])]
            if not targets:
                return self._save(
                    record,
                    outcome="skipped",
                    reason="no_targets",
                    detail=f"container '{container}' is not an eligible replica of '{service}'",
                )
        only_not_running = bool(record.params.get("only_not_running"))
        if record.action == "restart_container" and only_not_running:
            targets = [t for t in targets if t.state != "running"]
            if not targets:
                return self._save(
                    record,
                    outcome="skipped",
                    reason="no_targets",
                    detail=f"every eligible replica of '{service}' is running",
                )
        names = [t.name for t in targets]
        count = len(targets)
        bound = self._scale_bound(record, count)
        if bound is not None:
            reason, detail = bound
            skipped = record.model_copy(
                update={"finished_at": self.clock(), "reason": reason, "detail": detail}
            )
            if record.trigger.source == "snapshot":
                # a sustained "cpu is low" at min replicas is not a remediation: no audit noise
                return skipped
            return self._save(
                record, outcome="skipped", reason=reason, target=service, detail=detail
            )
        now = self.clock()
        grace = self.global_settings.grace_period_s
        grace_s = self.settings.grace_period_s if grace is None else grace
        running = [t.started_at for t in targets if t.state == "running"]
        left = grace_remaining(running, grace_s, now)
        if left > 0:
            return self._save(
                record,
                outcome="skipped",
                reason="grace",
                detail=f"a container started less than {grace_s:.0f} s ago "
                f"({left:.0f} s of grace left)",
            )
        target_text = ",".join(names) if record.action == "restart_container" else service
        if dry_run:
            verb = {
                "restart_container": f"restart {target_text}",
                "scale_up": f"scale {service} up from {count}",
                "scale_down": f"scale {service} down from {count}",
            }[record.action]
            return self._save(
                record, outcome="dry_run", target=target_text, detail=f"dry run: would {verb}"
            )
        cfg = self.global_settings.breaker
        # operators' actions neither use up nor settle a half-open trial
        if not record.manual:
            self.store.set_breaker(
                service, breaker_on_attempt(self.store.breaker(service), cfg, now)
            )
        try:
            chosen = names if only_not_running or container is not None else None
            outcome: ActionOutcome = await self._call(
                self._actuate(record, chosen), self.settings.action_timeout_s
            )
        except Exception as exc:
            error = (
                f"timed out after {self.settings.action_timeout_s:g} s"
                if isinstance(exc, TimeoutError)
                else f"{type(exc).__name__}: {exc}"
            )
            return self._fail(record, error, None, target=target_text)
        self.metrics.action_seconds.labels(record.action).observe(outcome.duration_ms / 1000)
        extra = {
            "target": ",".join(outcome.targets) or target_text,
            "detail": outcome.detail,
            "duration_ms": outcome.duration_ms,
        }
        if outcome.replicas_before is not None:
            extra["params"] = {
                **record.params,
                "replicas_before": outcome.replicas_before,
                "replicas_after": outcome.replicas_after,
            }
        if outcome.status == "noop":
            state = self.store.breaker(service)
            if state.trial_in_flight and not record.manual:
                # nothing was done, so nothing will be verified: the trial is still available
                self.store.set_breaker(service, replace(state, trial_in_flight=False))
            return self._save(record, outcome="skipped", reason="noop", **extra)
        if outcome.status == "failed":
            return self._fail(record, outcome.error or outcome.detail, None, **extra)
        verify = record.trigger.source in ("alert", "snapshot")
        window = self.global_settings.verification_window_s or self.settings.verification_window_s
        return self._save(
            record,
            outcome="succeeded",
            verification="pending" if verify else "not_applicable",
            verify_by=self.clock() + window if verify else None,
            **extra,
        )

    async def _actuate(self, record: ActionRecord, names: list[str] | None) -> ActionOutcome:
        p = record.params
        if record.action == "restart_container":
            stop = p.get("stop_timeout_s", 10.0)
            if names is None:
                return await self.actuator.restart(
                    RestartParams(service=record.service, stop_timeout_s=stop)
                )
            # chosen replicas (one named, or the ones not running): one at a time
            outcomes = [
                await self.actuator.restart(
                    RestartParams(service=record.service, stop_timeout_s=stop, container=name)
                )
                for name in names
            ]
            failed = [o for o in outcomes if o.status == "failed"]
            return ActionOutcome(
                status="failed" if failed else "succeeded",
                targets=[t for o in outcomes for t in o.targets],
                detail="; ".join(o.detail for o in outcomes),
                error="; ".join(o.error or o.detail for o in failed) or None,
                duration_ms=sum(o.duration_ms for o in outcomes),
            )
        return await self.actuator.scale(
            ScaleParams(
                service=record.service,
                direction="up" if record.action == "scale_up" else "down",
                step=p.get("step", 1),
                min_replicas=p.get("min_replicas", 1),
                max_replicas=p.get("max_replicas", 3),
            )
        )

    @staticmethod
    def _scale_bound(record: ActionRecord, count: int) -> tuple[str, str] | None:
        p = record.params
        if record.action == "scale_up" and count >= p.get("max_replicas", 3):
            return "at_max_replicas", f"{count} replicas, max {p.get('max_replicas', 3)}"
        if record.action == "scale_down" and count <= p.get("min_replicas", 1):
            return "at_min_replicas", f"{count} replicas, min {p.get('min_replicas', 1)}"
        return None

    def _fail(
        self, record: ActionRecord, error: str, reason: str | None, **extra: Any
    ) -> ActionRecord:
        saved = self._save(
            record,
            outcome="failed",
            error=error,
            reason=reason,
            verification="failed",
            verified_at=self.clock(),
            **extra,
        )
        if not record.manual:
            self._feed_breaker(record.service, False, self.clock())
        return saved

    # views ---------------------------------------------------------------------------------

    def breaker_view(self, target: str) -> dict[str, Any]:
        state = self.store.breaker(target)
        eff = breaker_effective(state, self.global_settings.breaker, self.clock())
        return {"state": eff, "failures": state.failures, "opened_at": state.opened_at}

    def policy_view(self, policy: Policy) -> dict[str, Any]:
        now = self.clock()
        last = self.store.last_acted_at(policy.name, policy.service)
        used: dict[str, Any] = {}
        if policy.budget is not None:
            times = self.store.attempt_times(
                now - policy.budget.window_s, policy=policy.name, service=policy.service
            )
            check = budget_check(times, policy.budget, now)
            used["policy"] = {"used": check.used, "max": check.limit, "window_s": check.window_s}
        gs = self.global_settings
        if policy.action in DOCKER_ACTIONS and gs.per_service_budget is not None:
            times = self.store.attempt_times(
                now - gs.per_service_budget.window_s, service=policy.service, actions=DOCKER_ACTIONS
            )
            check = budget_check(times, gs.per_service_budget, now)
            used["service"] = {"used": check.used, "max": check.limit, "window_s": check.window_s}
        view = policy.as_dict()
        view["cooldown_remaining_s"] = round(cooldown_remaining(last, policy.cooldown_s, now), 3)
        view["budget_used"] = used
        view["breaker"] = self.breaker_view(policy.service)
        key = (policy.name, policy.service, policy.condition)
        view["condition_true_since"] = self._since.get(key)
        return view
