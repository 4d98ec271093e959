"""The validated policy types: the policy per action, the PolicySet and its version (pure)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, SkipValidation
from pydantic import Field as PydanticField

from policy_engine.alert_match import AlertMatch
from policy_engine.conditions import Node, metrics_of
from policy_engine.maintenance import Window
from policy_engine.params import DEFAULTS, AlertArgs, RestartArgs, ScaleArgs
from policy_engine.policy_settings import Budget, GlobalSettings

ACTIONS = ("restart_container", "scale_up", "scale_down", "alert")
DOCKER_ACTIONS = ("restart_container", "scale_up", "scale_down")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
DEFAULT_COOLDOWN_S = 300.0
assert set(DEFAULTS) == set(ACTIONS)
NAME_RULE = "must be 1-100 letters, digits, '_', '.', '-' starting with a letter or digit"


class _PolicyBase(BaseModel):
    """A validated policy; `action` picks the subclass and the type of its `args`."""

    model_config = ConfigDict(frozen=True)

    name: str
    condition: str
    ast: SkipValidation[Node] = PydanticField(exclude=True, repr=False)
    action: str
    args: RestartArgs | ScaleArgs | AlertArgs
    service: str
    cooldown_s: float = DEFAULT_COOLDOWN_S
    enabled: bool = True
    for_s: float = 0.0
    dry_run: bool = False
    budget: Budget | None = None
    description: str = ""
    alert: AlertMatch | None = None  # external Alertmanager alerts this policy acts on

    @property
    def metrics(self) -> set[str]:
        return metrics_of(self.ast)

    @property
    def params(self) -> dict[str, Any]:
        """The typed args as the audit log records them."""
        return self.args.as_params()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "condition": self.condition,
            "action": self.action,
            "service": self.service,
            "cooldown": self.cooldown_s,
            "enabled": self.enabled,
            "for": self.for_s,
            "dry_run": self.dry_run,
            "params": dict(self.params),
            "budget": self.budget.as_dict() if self.budget else None,
            "description": self.description,
            "alert": self.alert.as_dict() if self.alert else None,
        }


class RestartPolicy(_PolicyBase):
    action: Literal["restart_container"]
    args: RestartArgs = RestartArgs()


class ScalePolicy(_PolicyBase):
    action: Literal["scale_up", "scale_down"]
    args: ScaleArgs = ScaleArgs()


class AlertPolicy(_PolicyBase):
    action: Literal["alert"]
    args: AlertArgs = AlertArgs()


Policy = Annotated[RestartPolicy | ScalePolicy | AlertPolicy, PydanticField(discriminator="action")]


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[Policy, ...]
    settings: GlobalSettings
    version: str
    file: str
    maintenance: tuple[Window, ...] = ()

    def by_name(self, name: str) -> Policy | None:
        return next((p for p in self.policies if p.name == name), None)


def version_of(text: bytes) -> str:
    """Policy version: a short hash of the file's bytes."""
    return "sha256-" + hashlib.sha256(text).hexdigest()[:12]
