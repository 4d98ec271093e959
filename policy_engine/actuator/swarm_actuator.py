"""The Swarm adapter behind the `Actuator` protocol: replace tasks and scale services of a stack.

Semantics (docs/swarm.md):
- restart of a named task (`<stack>_<service>.<slot>`, task id, or its container): that task's
  container is stopped gracefully on this node; the orchestrator puts a new task in the same
  slot while the other tasks keep serving. Needs restart condition `any` (Swarm's default).
- restart of the whole service: `docker service update --force`, a rolling replacement that
  follows the service's own update_config (works on any node).
- scale: the service's replica count, within the policy's bounds.
Verification reads task state (current tasks, running, new ids), never container state. The
blocking calls themselves are in swarm_calls.py.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable

from policy_engine.actuator.calls import ActionFailed
from policy_engine.actuator.outcomes import at_bound, failed, outcome, short
from policy_engine.actuator.selection import scale_target
from policy_engine.actuator.swarm_calls import ServiceState, SwarmCalls
from policy_engine.actuator.swarm_selection import (
    TaskView,
    all_replaced,
    full_name,
    match_task,
    replicas_of,
    restart_condition,
    running_count,
    task_name,
)
from policy_engine.actuator.types import (
    ActionOutcome,
    ContainerChange,
    ContainerInfo,
    RestartParams,
    ScaleParams,
)


class SwarmActuator(SwarmCalls):
    """Replace tasks of, and scale, one stack's opted-in Swarm services."""

    # ---- reads ----------------------------------------------------------------------------

    async def _state(self, service: str) -> ServiceState:
        """The service, eligible, or ActionFailed saying why not."""
        state = await self._call(
            f"read service {service}", self._read, service, limit_s=self.call_timeout_s
        )
        if state is None:
            raise ActionFailed(
                f"refused: no service {full_name(self.stack, service)!r} in stack {self.stack!r}"
            )
        if state.reason is not None:
            raise ActionFailed(f"refused: {state.name}: {state.reason}")
        return state

    def _info(self, state: ServiceState, service: str, task: TaskView) -> ContainerInfo:
        return ContainerInfo(
            id=task.id,
            name=task_name(state.name, task),
            service=service,
            number=task.slot,
            state=task.state,
            started_at=task.changed_at if task.state == "running" else None,
            created_at=task.created_at,
        )

    async def list_targets(self, service: str) -> list[ContainerInfo]:
        """The eligible service's current tasks; empty when refused or Docker is unreachable."""
        try:
            state = await self._state(service)
        except ActionFailed:
            return []
        return [self._info(state, service, t) for t in state.tasks]

    async def changes(self, service: str, since: float, until: float) -> list[ContainerChange]:
        name = full_name(self.stack, service)
        return await self._call(
            "events", self._events, name, since, until, limit_s=self.call_timeout_s
        )

    async def _poll(
        self, state: ServiceState, done: Callable[[list[TaskView]], bool], what: str
    ) -> list[TaskView]:
        """Read the service's tasks until `done` holds, bounded by ready_timeout_s."""
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            tasks = await self._call(
                f"tasks of {state.name}", self._tasks, state.id, limit_s=self.call_timeout_s
            )
            if done(tasks):
                return tasks
            if time.monotonic() >= deadline:
                seen = ", ".join(f"{task_name(state.name, t)}={t.state}" for t in tasks) or "none"
                errors = "; ".join(sorted({t.error for t in tasks if t.error}))
                raise ActionFailed(
                    f"{state.name}: {what} not reached within {self.ready_timeout_s:.0f}s "
                    f"(tasks: {seen}{'; ' + errors if errors else ''})"
                )
            await asyncio.sleep(self.poll_interval_s)

    # ---- restart --------------------------------------------------------------------------

    async def restart(self, params: RestartParams) -> ActionOutcome:
        started = time.monotonic()
        before: int | None = None
        try:
            async with self._lock(params.service):
                state = await self._state(params.service)
                before = len(state.tasks)
                if params.container:
                    name = await self._replace_one(state, params)
                    return outcome(
                        started,
                        "succeeded",
                        [name],
                        f"replaced task {name}",
                        before=before,
                        after=before,
                    )
                names = await self._replace_all(state)
            return outcome(
                started,
                "succeeded",
                names,
                f"replaced every task of {state.name} (rolling): {', '.join(names)}",
                before=before,
                after=before,
            )
        except ActionFailed as exc:
            return failed(started, [], params.service, str(exc), before, before)
        except Exception as exc:  # the contract: never let an exception escape
            return failed(started, [], params.service, f"unexpected: {short(exc)}", before)

    async def _replace_one(self, state: ServiceState, params: RestartParams) -> str:
        ref = str(params.container)
        task = match_task(state.tasks, state.name, ref)
        if task is None:
            raise ActionFailed(f"refused: {ref!r} is not a current task of {state.name}")
        name = task_name(state.name, task)
        if restart_condition(state.spec) != "any":
            raise ActionFailed(
                f"refused: {state.name} has restart condition "
                f"{restart_condition(state.spec)!r}; replacing one task needs 'any'"
            )
        local = await self._call("node id", self._local_node, limit_s=self.call_timeout_s)
        if task.node_id != local or not task.container_id:
            raise ActionFailed(
                f"{name} runs on node {task.node_id or '?'}, not this manager ({local}): "
                "its container cannot be stopped from here; restart the whole service instead"
            )
        await self._call(
            f"stop {name}",
            self._stop,
            task.container_id,
            params.stop_timeout_s,
            limit_s=self.call_timeout_s + params.stop_timeout_s,
        )

        def replaced(tasks: list[TaskView]) -> bool:
            new = (t for t in tasks if t.slot == task.slot and t.id != task.id)
            return any(t.state == "running" for t in new)

        await self._poll(state, replaced, f"a new running task in slot {task.slot}")
        return name

    async def _replace_all(self, state: ServiceState) -> list[str]:
        replicas = replicas_of(state.spec)
        if replicas is None:
            replicas = len(state.tasks)  # global: one task per eligible node
        old = {t.id for t in state.tasks}
        template = copy.deepcopy(state.spec.get("TaskTemplate") or {})
        template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
        await self._call(
            f"force update {state.name}", self._update, state, template, limit_s=self.call_timeout_s
        )
        tasks = await self._poll(
            state, lambda ts: all_replaced(old, ts, replicas), f"{replicas} new running task(s)"
        )
        return [task_name(state.name, t) for t in tasks]

    # ---- scale ----------------------------------------------------------------------------

    async def scale(self, params: ScaleParams) -> ActionOutcome:
        started = time.monotonic()
        before: int | None = None
        try:
            async with self._lock(params.service):
                state = await self._state(params.service)
                before = replicas_of(state.spec)
                if before is None:
                    raise ActionFailed(f"refused: {state.name} is global (one task per node)")
                target = scale_target(
                    before, params.direction, params.step, params.min_replicas, params.max_replicas
                )
                if target == before:
                    return at_bound(started, params, before)
                old = {t.slot: task_name(state.name, t) for t in state.tasks}
                mode = {"Replicated": {"Replicas": target}}
                await self._call(
                    f"scale {state.name}",
                    self._update,
                    state,
                    None,
                    mode,
                    limit_s=self.call_timeout_s,
                )
                tasks = await self._poll(
                    state,
                    lambda ts: running_count(ts) == (target, target),
                    f"{target} running task(s)",
                )
            # by slot: Swarm may replace a task on its own meanwhile (a failed health check)
            new = {t.slot: task_name(state.name, t) for t in tasks}
            changed = sorted(
                (v for k, v in new.items() if k not in old)
                if target > before
                else (v for k, v in old.items() if k not in new)
            )
            verb = "added" if target > before else "removed"
            return outcome(
                started,
                "succeeded",
                changed,
                f"{verb} {', '.join(changed)}; {params.service} {before} -> {len(tasks)} replicas",
                before=before,
                after=len(tasks),
            )
        except ActionFailed as exc:
            return await self._scale_failed(started, params.service, str(exc), before)
        except Exception as exc:
            return await self._scale_failed(
                started, params.service, f"unexpected: {short(exc)}", before
            )

    async def _scale_failed(
        self, started: float, service: str, error: str, before: int | None
    ) -> ActionOutcome:
        after: int | None = None
        try:  # daemon still down: the count is unknown, and None says so
            after = len((await self._state(service)).tasks)
        except Exception:
            after = None
        return failed(started, [], service, error, before, after)
