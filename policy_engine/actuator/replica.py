"""A compose replica as `docker inspect` shows it, and which replica a new one is cloned from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policy_engine.actuator.selection import SERVICE_LABEL, container_number, parse_rfc3339
from policy_engine.actuator.types import ContainerInfo


@dataclass
class Replica:
    """One container of a compose service, as read from `docker inspect`."""

    id: str
    name: str
    service: str
    number: int
    state: str
    health: str | None
    started_raw: str
    started_at: float | None
    created_at: float
    attrs: dict[str, Any]

    def info(self) -> ContainerInfo:
        return ContainerInfo(
            id=self.id,
            name=self.name,
            service=self.service,
            number=self.number,
            state=self.state,
            health=self.health,
            started_at=self.started_at,
            created_at=self.created_at,
        )


def read_replica(attrs: dict[str, Any]) -> Replica:
    """The `Replica` of one `docker inspect` answer."""
    state = attrs.get("State") or {}
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    health = (state.get("Health") or {}).get("Status")
    return Replica(
        id=str(attrs["Id"]),
        name=str(attrs.get("Name", "")).lstrip("/"),
        service=str(labels.get(SERVICE_LABEL, "")),
        number=container_number(labels),
        state=str(state.get("Status", "unknown")),
        health=str(health) if health else None,
        started_raw=str(state.get("StartedAt") or ""),
        started_at=parse_rfc3339(state.get("StartedAt")),
        created_at=parse_rfc3339(attrs.get("Created")) or 0.0,
        attrs=attrs,
    )


def pick_template(replicas: list[Replica]) -> Replica:
    """A healthy running replica if any (lowest number), else a running one, else any."""

    def rank(r: Replica) -> tuple[int, int]:
        running = r.state == "running"
        healthy = running and r.health in (None, "healthy")
        return (0 if healthy else 1 if running else 2, r.number)

    return min(replicas, key=rank)


def stop_timeout(attrs: dict[str, Any], default: float) -> float:
    """The service's stop_grace_period (compose stores it as Config.StopTimeout)."""
    value = (attrs.get("Config") or {}).get("StopTimeout")
    return float(value) if isinstance(value, int | float) and value >= 0 else default
