"""Typed action parameters: each default defined once, here. policies.py validates a file's
`params:` (with precise messages) into these; the executor reads an action's params through them
and hands them to the actuator as they are."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Params(BaseModel):
    # records also carry what the action found (replicas_before/after): ignored here
    model_config = ConfigDict(extra="ignore", frozen=True)


class RestartArgs(_Params):
    stop_timeout_s: float = Field(default=10.0, ge=0, le=300)
    only_not_running: bool = False
    container: str | None = None  # manual actions only

    def as_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stop_timeout_s": self.stop_timeout_s}
        if self.only_not_running:
            out["only_not_running"] = True
        if self.container is not None:
            out["container"] = self.container
        return out


class ScaleArgs(_Params):
    step: int = Field(default=1, ge=1, le=20)
    min_replicas: int = Field(default=1, ge=0, le=50)
    max_replicas: int = Field(default=3, ge=1, le=50)
    container: str | None = None

    def as_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
        }
        if self.container is not None:
            out["container"] = self.container
        return out


class AlertArgs(_Params):
    url: str | None = None
    message: str = ""

    def as_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.url is not None:
            out = {"url": self.url, **out}
        return out


ActionArgs = RestartArgs | ScaleArgs | AlertArgs
DEFAULTS: dict[str, ActionArgs] = {
    "restart_container": RestartArgs(),
    "scale_up": ScaleArgs(),
    "scale_down": ScaleArgs(),
    "alert": AlertArgs(),
}


def args_of(action: str, params: dict[str, Any]) -> ActionArgs:
    """The typed parameters of an action from a record's params (defaults filled in)."""
    if action == "restart_container":
        return RestartArgs.model_validate(params)
    if action in ("scale_up", "scale_down"):
        return ScaleArgs.model_validate(params)
    return AlertArgs.model_validate(params)
