"""Typed interface between the policy engine's decision side and Docker (docs/contracts.md)."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, model_validator

from policy_engine.params import RestartArgs, ScaleArgs

# the wire model of `GET /changes` items is the contracts' own
from relia_contracts.policy_views import ContainerChange as ContainerChange

# Defaults come from the policy parameters (params.py): one value each, defined once.
_RESTART, _SCALE = RestartArgs(), ScaleArgs()


class RestartParams(BaseModel):
    """Restart one named container, or every eligible replica of `service` one at a time."""

    service: str = Field(min_length=1)
    stop_timeout_s: float = Field(default=_RESTART.stop_timeout_s, ge=0, le=300)
    container: str | None = None


class ScaleParams(BaseModel):
    """Add or remove `step` replicas of `service`, staying within [min_replicas, max_replicas]."""

    service: str = Field(min_length=1)
    direction: Literal["up", "down"]
    step: int = Field(default=_SCALE.step, ge=1, le=20)
    min_replicas: int = Field(default=_SCALE.min_replicas, ge=0)
    max_replicas: int = Field(default=_SCALE.max_replicas, ge=1, le=50)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ScaleParams:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) > max_replicas ({self.max_replicas})"
            )
        return self


class ContainerInfo(BaseModel):
    """One eligible container as the engine sees it."""

    id: str
    name: str
    service: str
    number: int
    state: str
    health: str | None = None
    started_at: float | None = None
    created_at: float


class ActionOutcome(BaseModel):
    """What an action did; stored in the audit log."""

    status: Literal["succeeded", "failed", "noop"]
    targets: list[str] = Field(default_factory=list)
    detail: str
    error: str | None = None
    replicas_before: int | None = None
    replicas_after: int | None = None
    duration_ms: float


@runtime_checkable
class Actuator(Protocol):
    """The only way the decision side touches Docker."""

    async def restart(self, params: RestartParams) -> ActionOutcome: ...

    async def scale(self, params: ScaleParams) -> ActionOutcome: ...

    async def list_targets(self, service: str) -> list[ContainerInfo]:
        """Eligible containers only (opt-in label, same compose project, not the engine itself)."""
        ...

    async def ping(self) -> bool: ...

    async def changes(self, service: str, since: float, until: float) -> list[ContainerChange]:
        """The service's container lifecycle events in [since, until], oldest first."""
        ...
