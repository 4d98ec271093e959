"""Pure rules for the Swarm backend (no I/O): which services it may touch, and how a service's
tasks read as replicas. Inputs are the dicts the Engine API returns for services and tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from policy_engine.actuator.selection import (
    OPT_IN_LABEL,
    OPT_IN_VALUE,
    ROLE_LABEL,
    SELF_ROLE,
    parse_rfc3339,
)

STACK_LABEL = "com.docker.stack.namespace"
# Task states that are over for good; a task in any other state with desired state "running" is
# one of the service's current replicas (pending, assigned, ..., starting, running).
ENDED = frozenset({"complete", "shutdown", "failed", "rejected", "orphaned", "remove"})


def full_name(stack: str, service: str) -> str:
    """`docker stack deploy` names a compose service `<stack>_<service>`."""
    return f"{stack}_{service}"


@dataclass(frozen=True)
class TaskView:
    """One task of a service, as the decision side needs it."""

    id: str
    slot: int
    state: str
    desired: str
    node_id: str
    container_id: str
    created_at: float
    changed_at: float | None
    error: str

    @property
    def current(self) -> bool:
        return self.desired == "running" and self.state not in ENDED


def task_view(task: Mapping[str, Any]) -> TaskView:
    status = task.get("Status") or {}
    container = (status.get("ContainerStatus") or {}).get("ContainerID") or ""
    slot = task.get("Slot")
    return TaskView(
        id=str(task.get("ID", "")),
        slot=int(slot) if isinstance(slot, int) else 0,
        state=str(status.get("State", "unknown")),
        desired=str(task.get("DesiredState", "")),
        node_id=str(task.get("NodeID", "")),
        container_id=str(container),
        created_at=parse_rfc3339(task.get("CreatedAt")) or 0.0,
        changed_at=parse_rfc3339(status.get("Timestamp")),
        error=str(status.get("Err") or status.get("Message") or ""),
    )


def current_tasks(tasks: Iterable[Mapping[str, Any]]) -> list[TaskView]:
    """The service's current replicas, by slot (tasks the orchestrator still wants running)."""
    return sorted((v for v in map(task_view, tasks) if v.current), key=lambda v: (v.slot, v.id))


def task_name(service_name: str, task: TaskView) -> str:
    """`<stack>_<service>.<slot>`, as `docker service ps` shows it: a slot's replacement task
    keeps the name, so an audit record's target still names it after the restart."""
    return f"{service_name}.{task.slot}"


def service_ineligibility(
    spec: Mapping[str, Any],
    stack: str,
    service: str,
    own_container_ids: Iterable[str] = (),
    self_ids: Iterable[str] = (),
) -> str | None:
    """Why the actuator must not touch this service, or None when it may.

    `spec` is the service's `Spec`; `own_container_ids` the containers of its tasks."""
    labels = spec.get("Labels") or {}
    container_labels = ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get(
        "Labels"
    ) or {}
    if not stack:
        return "no stack configured"
    if spec.get("Name") != full_name(stack, service):
        return f"service {spec.get('Name')!r} is not {service!r} of stack {stack!r}"
    if labels.get(STACK_LABEL) != stack:
        return f"not in stack {stack!r} (stack={labels.get(STACK_LABEL)!r})"
    if labels.get(OPT_IN_LABEL) != OPT_IN_VALUE:
        return f"no opt-in service label {OPT_IN_LABEL}={OPT_IN_VALUE}"
    if SELF_ROLE in (labels.get(ROLE_LABEL), container_labels.get(ROLE_LABEL)):
        return "it is the policy engine's own service"
    ids = [s for s in self_ids if s]
    if any(c.startswith(s) or s.startswith(c) for c in own_container_ids if c for s in ids):
        return "it is the policy engine's own service"
    return None


def replicas_of(spec: Mapping[str, Any]) -> int | None:
    """Desired replicas of a replicated service; None for a global one."""
    replicated = (spec.get("Mode") or {}).get("Replicated")
    if replicated is None:
        return None
    return int(replicated.get("Replicas") or 0)


def restart_condition(spec: Mapping[str, Any]) -> str:
    """The task template's restart condition; Swarm's default is `any`."""
    policy = (spec.get("TaskTemplate") or {}).get("RestartPolicy") or {}
    return str(policy.get("Condition") or "any")


def match_task(tasks: Iterable[TaskView], service_name: str, ref: str) -> TaskView | None:
    """A task named by `<service>.<slot>`, its id, an id prefix (>= 10 chars) or its container."""
    for task in tasks:
        ids = (task.id, task.container_id)
        if ref == task_name(service_name, task) or ref in ids:
            return task
        if len(ref) >= 10 and any(i.startswith(ref) for i in ids if i):
            return task
    return None


def all_replaced(old_ids: set[str], tasks: Iterable[TaskView], replicas: int) -> bool:
    """A forced update is through: `replicas` current tasks, all new and running."""
    now = list(tasks)
    running = [t for t in now if t.state == "running"]
    return len(now) == replicas == len(running) and not any(t.id in old_ids for t in now)


def running_count(tasks: Iterable[TaskView]) -> tuple[int, int]:
    """(current tasks, of which running): a scale is through when both equal the target."""
    now = list(tasks)
    return len(now), sum(1 for t in now if t.state == "running")
