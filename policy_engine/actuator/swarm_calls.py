"""The blocking Docker calls on one Swarm stack's services and tasks (each run on the pool)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Unpack

import docker.errors

from policy_engine.actuator.calls import CallOptions, DockerCalls
from policy_engine.actuator.changes import read_changes
from policy_engine.actuator.selection import SWARM_SERVICE_LABEL
from policy_engine.actuator.swarm_selection import (
    TaskView,
    current_tasks,
    full_name,
    service_ineligibility,
)
from policy_engine.actuator.types import ContainerChange


@dataclass
class ServiceState:
    """One read of a service: its spec, version, current tasks and why it is off-limits."""

    id: str
    name: str
    version: int
    spec: dict[str, Any]
    tasks: list[TaskView]
    reason: str | None


class SwarmCalls(DockerCalls):
    """Read a stack's services and tasks, stop a task's container, update a service."""

    gone_noun = "service or task"

    def __init__(self, stack: str, **options: Unpack[CallOptions]) -> None:
        if not stack:
            raise ValueError("SwarmActuator needs the stack name")
        # The Swarm default (compose's: 30 s): a forced update replaces the tasks one by one.
        options.setdefault("ready_timeout_s", 60.0)
        super().__init__(**options)
        self.stack = stack

    def _read(self, service: str) -> ServiceState | None:
        """The stack's service `service` (None when there is none), with its current tasks."""
        api = self._client().api
        name = full_name(self.stack, service)
        # The name filter matches prefixes: keep the exact name only.
        found = [s for s in api.services(filters={"name": name}) if s["Spec"].get("Name") == name]
        if not found:
            return None
        svc = found[0]
        tasks = current_tasks(api.tasks(filters={"service": svc["ID"]}))
        own = [t.container_id for t in tasks]
        # A 12-hex HOSTNAME is the engine's own container id (Docker's default hostname).
        ids = [*self._self_ids, *([self._hostname] if self._hostname else [])]
        reason = service_ineligibility(svc["Spec"], self.stack, service, own, ids)
        return ServiceState(
            id=str(svc["ID"]),
            name=name,
            version=int(svc["Version"]["Index"]),
            spec=svc["Spec"],
            tasks=tasks,
            reason=reason,
        )

    def _tasks(self, service_id: str) -> list[TaskView]:
        return current_tasks(self._client().api.tasks(filters={"service": service_id}))

    def _local_node(self) -> str:
        return str(((self._client().api.info().get("Swarm") or {}).get("NodeID")) or "")

    def _stop(self, container_id: str, stop_timeout_s: float) -> None:
        # already gone: the orchestrator replaces the task either way
        with contextlib.suppress(docker.errors.NotFound):
            self._client().api.stop(container_id, timeout=round(stop_timeout_s))

    def _update(self, state: ServiceState, task_template: Any = None, mode: Any = None) -> None:
        # fetch_current_spec: every field not passed keeps its current value.
        self._client().api.update_service(
            state.id,
            state.version,
            task_template=task_template,
            mode=mode,
            fetch_current_spec=True,
        )

    def _events(self, name: str, since: float, until: float) -> list[ContainerChange]:
        return read_changes(self._client().api, {SWARM_SERVICE_LABEL: name}, since, until)
