"""The one pipeline every action goes through, whatever triggered it:

    candidate -> admit: read persisted state once, pure guards (guards.decide), then in ONE
                 SQLite transaction the delivery's dedupe key and the `pending` record (or skip)
              -> run (an asyncio task): read the targets once, pure target guards, execute
                 (execute.py), settle the pending record (succeeded / failed / skipped / dry_run)
              -> verification and breaker (verify.py)

Nothing touches Docker or a webhook before its `pending` record is committed, so a crash
leaves a record that start-up settles from the real world (recovery.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policy_engine.candidate import Candidate as Candidate
from policy_engine.candidate import action_labels
from policy_engine.candidate import busy_key as busy_key
from policy_engine.candidate import new_action_id as new_action_id
from policy_engine.guards import (
    GuardInputs,
    breaker_allows,
    budget_check,
    cooldown_remaining,
    decide,
    settling,
    target_cooldown,
)
from policy_engine.models import ActionRecord
from policy_engine.policies import DOCKER_ACTIONS

if TYPE_CHECKING:
    from policy_engine.engine import Engine

log = logging.getLogger("policy_engine")


@dataclass
class Admitted:
    record: ActionRecord  # pending (or the skip, already settled)
    task: asyncio.Task[ActionRecord] | None = None


class Pipeline:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.busy: dict[str, Candidate] = {}  # busy key -> the candidate running there
        self.scheduled: set[tuple[str, str | None]] = set()  # (policy, anomaly_id) not yet run
        self.tasks: set[asyncio.Task[Any]] = set()

    # admission (synchronous: no await between a guard's read and the busy mark) -------------

    def inputs(self, c: Candidate, now: float) -> GuardInputs:
        """Read once the persisted and in-memory state every state guard needs."""
        eff = self.engine.effective
        store = self.store
        docker = c.action in DOCKER_ACTIONS
        last = store.last_acted_at(c.policy, c.service, c.cooldown_action)
        pb = sb = gb = None
        if c.budget is not None:
            times = store.attempt_times(now - c.budget.window_s, policy=c.policy, service=c.service)
            pb = budget_check(times, c.budget, now)
        if docker and eff.per_service_budget is not None:
            window = eff.per_service_budget.window_s
            times = store.attempt_times(now - window, service=c.service, actions=DOCKER_ACTIONS)
            sb = budget_check(times, eff.per_service_budget, now)
        if docker and eff.global_budget is not None:
            times = store.attempt_times(now - eff.global_budget.window_s, actions=DOCKER_ACTIONS)
            gb = budget_check(times, eff.global_budget, now)
        across = None
        if docker and eff.target_cooldown and not c.manual:
            running = self.busy.get(c.busy_key)
            if running is not None and running.action == c.action:
                acted: tuple[str, float] | None = (running.policy, now)
            else:
                acted = store.last_on_target(c.service, c.action)
            across = target_cooldown(acted, c.policy, c.cooldown_s, now)
        maintenance = silence = None
        if not c.manual:  # an operator's own action is not stopped by their own "not now"
            maintenance = self.engine.am.maintenance_for(c.service, now)
            if docker:  # alerts go to Alertmanager, which applies its silences itself
                silence = self.engine.am.silence_for(action_labels(c), now)
        settle = None
        if c.trigger.kind == "no_data" and not c.manual:
            acted_on = store.last_of(c.service, DOCKER_ACTIONS)
            settle = settling(acted_on, eff.grace_period_s, now)
        return GuardInputs(
            settling=settle,
            maintenance=maintenance,
            silence=silence,
            enabled=self.engine.enabled,
            is_docker_action=docker,
            cooldown_remaining_s=cooldown_remaining(last, c.cooldown_s, now),
            policy_budget=pb,
            service_budget=sb,
            global_budget=gb,
            breaker_ok=breaker_allows(store.breaker(c.service), eff.breaker, now),
            in_progress=c.busy_key in self.busy,
            target_cooldown=across,
        )

    def admit(
        self, candidates: Iterable[Candidate], now: float, delivery_key: str | None = None
    ) -> list[Admitted] | None:
        """Guard every candidate, then commit the delivery key with the pending records and
        skips in one transaction, then start the admitted actions. None: a duplicate delivery."""
        out: list[Admitted] = []
        runs: list[tuple[Candidate, ActionRecord]] = []
        written: list[ActionRecord] = []
        later: list[ActionRecord] = []  # skips of sustained scale policies: maybe at their bound
        for c in candidates:
            record = _pending(c, now)
            skip = None if c.bypass_guards else self._guard(c, record, now)
            if skip is not None:
                out.append(Admitted(skip))
                self._file_skip(c, skip, written, later)
                continue
            self.busy[c.busy_key] = c  # the next candidate of this batch sees it in progress
            runs.append((c, record))
            out.append(Admitted(record))
        pending = [r for _, r in runs]
        if not self.store.accept([*pending, *written], delivery_key, now):
            for c, _ in runs:
                self.busy.pop(c.busy_key, None)
            return None
        for record in written:
            self.count(record)
        self._start(runs, later, out)
        return out

    def _guard(self, c: Candidate, record: ActionRecord, now: float) -> ActionRecord | None:
        """The skip record when a guard refuses the candidate, else None."""
        decision = decide(self.inputs(c, now))
        if decision.allowed:
            return None
        return record.model_copy(
            update={
                "outcome": "skipped",
                "reason": decision.reason,
                "detail": decision.detail,
                "finished_at": now,
            }
        )

    def _file_skip(
        self,
        c: Candidate,
        skip: ActionRecord,
        written: list[ActionRecord],
        later: list[ActionRecord],
    ) -> None:
        """A repeated skip is only counted; a sustained scale policy's skip is logged later
        (unless the service sits at its bound); any other skip is written with the batch."""
        if self.repeat_skip(skip, c.cooldown_s):
            self.engine.metrics.guard_skips.labels(skip.reason or "").inc()
        elif c.action in ("scale_up", "scale_down") and c.trigger.source == "snapshot":
            later.append(skip)
        else:
            written.append(skip)

    def _start(
        self,
        runs: list[tuple[Candidate, ActionRecord]],
        later: list[ActionRecord],
        out: list[Admitted],
    ) -> None:
        """Start the admitted actions and the deferred skip logs; hand each its task."""
        tasks = {}
        for c, record in runs:
            if not c.manual:
                self.scheduled.add(c.anomaly_key)
            tasks[record.id] = self.spawn(self._run(c, record))
        for skip in later:
            self.spawn(self.engine.executor.log_unless_at_bound(skip))
        for admitted in out:
            admitted.task = tasks.get(admitted.record.id)

    # running ------------------------------------------------------------------------------

    async def _run(self, c: Candidate, record: ActionRecord) -> ActionRecord:
        try:
            if c.action == "alert":
                return await self.engine.executor.alert(record)
            return await self.engine.executor.docker(record)
        except Exception as exc:  # a bug must not leave the record pending until a restart
            log.exception("action %s failed unexpectedly", record.id)
            return self.settle(record, outcome="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self.busy.pop(c.busy_key, None)
            self.scheduled.discard(c.anomaly_key)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # settling -----------------------------------------------------------------------------

    def repeat_skip(self, record: ActionRecord, cooldown_s: float) -> bool:
        """A sustained condition re-trying during the same skip writes one record, not one per
        `for` window: the same reason as the last record of (policy, service), recently."""
        if record.trigger.source != "snapshot":
            return False
        last = self.store.last_action(record.policy, record.service, exclude_id=record.id)
        quiet_s = max(cooldown_s, 60.0)
        return (
            last is not None
            and last.outcome == "skipped"
            and last.reason == record.reason
            and record.created_at - last.created_at < quiet_s
        )

    def settle(self, record: ActionRecord, **update: Any) -> ActionRecord:
        """The pending record's final state (a repeated skip of a re-check: no row at all)."""
        final = record.model_copy(update={"finished_at": self.engine.clock(), **update})
        if final.outcome == "skipped" and self.repeat_skip(final, 0.0):
            self.store.delete_action(final.id)
            self.engine.metrics.guard_skips.labels(final.reason or "").inc()
            return final
        self.store.save_action(final)
        self.count(final)
        return final

    def count(self, record: ActionRecord) -> None:
        metrics = self.engine.metrics
        metrics.actions.labels(record.policy, record.action, record.outcome).inc()
        if record.outcome == "skipped" and record.reason:
            metrics.guard_skips.labels(record.reason).inc()


def _pending(c: Candidate, now: float) -> ActionRecord:
    """The record of a candidate about to be guarded: pending until it runs or is skipped."""
    return ActionRecord(
        id=c.id,
        created_at=now,
        policy=c.policy,
        policy_version=c.version,
        action=c.action,
        service=c.service,
        params=c.params,
        manual=c.manual,
        dry_run=c.dry_run,
        trigger=c.trigger,
        outcome="pending",
    )
