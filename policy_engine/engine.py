"""The policy engine's facade: wires the parts and runs the control-loop cycle.

policy_state.py  policies.yml -> active set + effective settings (hot reload, last good)
triggers.py      alert / sustained `for` / open-anomaly re-check -> candidate actions
pipeline.py      candidate -> pure guards -> `pending` record (one transaction with the
                 delivery's dedupe key) -> execute.py -> settled record
verify.py        verification of acted remediations and the circuit breaker
recovery.py      start-up: settle the records a killed process left `pending`
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from policy_engine.actuator.types import Actuator
from policy_engine.alertmanager import AlertmanagerClient
from policy_engine.am_link import AmLink
from policy_engine.config import Settings
from policy_engine.execute import Executor
from policy_engine.guards import cooldown_remaining
from policy_engine.metrics import EngineMetrics
from policy_engine.models import ActionRecord, AMWebhook, Trigger
from policy_engine.notifier import WebhookNotifier
from policy_engine.pipeline import Candidate, Pipeline, busy_key, new_action_id
from policy_engine.policies import Policy
from policy_engine.policy_state import LAST_GOOD_KEY, Effective, PolicyLoader, PolicyStatus
from policy_engine.recovery import Recovery
from policy_engine.reload_thread import reload_off_loop
from policy_engine.snapshot import Snapshot, SnapshotClient
from policy_engine.store import Store
from policy_engine.triggers import Triggers
from policy_engine.verify import Breakers, Verifier
from policy_engine.views import policy_view

__all__ = ["ENABLED_KEY", "LAST_GOOD_KEY", "Engine", "PolicyStatus", "new_action_id"]
ENABLED_KEY = "remediation.enabled"


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
        alertmanager: AlertmanagerClient | None = None,
    ) -> None:
        self.loader = PolicyLoader(settings, store, metrics, clock)
        self.store = store
        self.actuator = actuator
        self.snapshots = snapshots
        self.notifier = notifier
        self.metrics = metrics
        self.clock = clock
        self.pipeline = Pipeline(self)
        self.executor = Executor(self)
        self.breakers = Breakers(self)
        self.verifier = Verifier(self)
        self.triggers = Triggers(self, settings.recheck_hold_s)
        self.recovery = Recovery(self)
        self.am = AmLink(self, alertmanager)
        self.snapshot: Snapshot | None = None
        self.docker_reachable: bool | None = None
        self.last_evaluation_at: float | None = None
        self._last_prune = 0.0
        self._ping_task: asyncio.Task[Any] | None = None
        self._settling: asyncio.Task[Any] | None = None
        self.metrics.dry_run.set(1 if settings.dry_run else 0)
        self.metrics.enabled.set(1 if self.enabled else 0)
        # read when scraped, like /status: a snapshot turns stale between cycles too
        self.metrics.snapshot_ok.set_function(lambda: 1 if self.fresh_snapshot() else 0)

    # policies and settings -----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.loader.settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self.loader.settings = value

    @property
    def policies(self) -> PolicyStatus:
        return self.loader.status

    @property
    def effective(self) -> Effective:
        return self.loader.effective

    @property
    def file(self) -> str:
        return self.loader.file

    @property
    def effective_dry_run(self) -> bool:
        return self.effective.dry_run

    def start(self) -> None:
        """First load (the file, else the last good set); note what a killed run left pending."""
        self.loader.start()
        self.recovery.collect()

    def reload(self, force: bool = False) -> PolicyStatus:
        return self.loader.reload(force)

    def apply(self, data: bytes, force: bool = False) -> PolicyStatus:
        return self.loader.apply(data, force)

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
        """POST /alerts after parsing: the webhook trigger (triggers.py) and the pipeline."""
        return self.triggers.on_webhook(hook, received_at)

    # the periodic cycle --------------------------------------------------------------------

    async def cycle(self) -> None:
        """One control-loop pass: reload, snapshot, docker ping, settle what a killed run left,
        the triggers (`for` policies, open anomalies), verification."""
        started = time.perf_counter()
        now = self.clock()
        await reload_off_loop(self)  # YAML parsing never blocks the event loop
        snap = await self.snapshots.fetch(now)
        if snap is not None:
            self.snapshot = snap
        if self._ping_task is None or self._ping_task.done():
            # off the evaluation path: a hung daemon must not delay `for` policies or verification
            self._ping_task = self.pipeline.spawn(self._refresh_docker())
        self.am.refresh_silences_soon(now)
        if not self.recovery.done and (self._settling is None or self._settling.done()):
            self._settling = self.pipeline.spawn(self.recovery.settle())  # Docker: off the loop
        fresh = self.fresh_snapshot()
        self.pipeline.admit(self.triggers.sustained(self.clock(), fresh), self.clock())
        reopen = self.triggers.open_anomalies(self.clock(), fresh, self._may_recheck)
        self.pipeline.admit(reopen, self.clock())
        self.verifier.due(self.clock())
        self.breakers.publish()
        if now - self._last_prune > 3600:
            self.store.prune_deliveries(now - 7 * 86400)
            self._last_prune = now
        self.last_evaluation_at = self.clock()
        self.metrics.last_cycle.set(self.last_evaluation_at)
        self.metrics.cycle_seconds.observe(time.perf_counter() - started)

    def _may_recheck(self, policy: Policy, anomaly_id: str) -> bool:
        """An open anomaly re-checked each cycle acts once per policy, silently waiting out
        that policy's cooldown and any running action on the target (no record for those)."""
        last = self.store.last_acted_at(policy.name, policy.service)
        running = busy_key(policy.action, policy.name, policy.service) in self.pipeline.busy
        if running or cooldown_remaining(last, policy.cooldown_s, self.clock()):
            return False
        if (policy.name, anomaly_id) in self.pipeline.scheduled:
            return False
        return not self.store.has_action_for(policy.name, anomaly_id)

    async def _refresh_docker(self) -> None:
        self.docker_reachable = await self.executor.ping()
        self.metrics.docker_up.set(1 if self.docker_reachable else 0)

    # operators and escalation --------------------------------------------------------------

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
        if container is not None:
            params = {**params, "container": container}
        c = Candidate(
            policy="manual",
            action=action,
            service=service,
            params=params,
            trigger=Trigger(source="manual", received_at=now, reason=reason or None),
            version=self.policies.active.version if self.policies.active else None,
            dry_run=self.effective.dry_run,
            manual=True,
            cooldown_s=self.effective.manual_cooldown_s,
            cooldown_action=action,
        )
        admitted = self.pipeline.admit([c], now)
        assert admitted  # no delivery key: never a duplicate
        task = admitted[0].task
        return admitted[0].record if task is None else await task

    def escalate(self, target: str, trigger: Trigger) -> None:
        """The breaker opened: tell a human through the alert webhook (no guards but the lock)."""
        c = Candidate(
            policy="breaker",
            action="alert",
            service=target,
            params={"message": f"circuit breaker opened for {target}: {trigger.reason}"},
            trigger=trigger,
            version=self.policies.active.version if self.policies.active else None,
            bypass_guards=True,
        )
        self.pipeline.admit([c], self.clock())

    async def recover(self) -> None:
        """Settle what a killed or stopped process left pending (before serving)."""
        await self.recovery.settle()

    async def drain(self, timeout_s: float | None = None) -> None:
        """SIGTERM: wait for running actions up to their own bound (a restart's stop timeout
        plus a Docker call), then cancel; what is cut short stays `pending` for start-up."""
        tasks = set(self.pipeline.tasks)
        if not tasks:
            return
        if timeout_s is None:
            stops = [
                float(c.params.get("stop_timeout_s", 0.0)) for c in self.pipeline.busy.values()
            ]
            timeout_s = max([10.0, *(s + self.settings.docker_timeout_s for s in stops)])
        _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()

    # views ---------------------------------------------------------------------------------

    def breaker_view(self, target: str) -> dict[str, Any]:
        return self.breakers.view(target)

    def policy_view(self, policy: Policy) -> dict[str, Any]:
        return policy_view(self, policy)
