"""Field checks of the policies file (pure): durations, numbers, URLs, action parameters, and the
bounded collector of the errors a user reads."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

from policy_engine.params import AlertArgs, RestartArgs, ScaleArgs, args_of
from policy_engine.yaml_load import bounded

PARAM_KEYS: dict[str, set[str]] = {
    "restart_container": {"stop_timeout", "only_not_running"},
    "scale_up": {"step", "min_replicas", "max_replicas"},
    "scale_down": {"step", "min_replicas", "max_replicas"},
    "alert": {"url", "message"},
}
MAX_ERRORS = 50
MAX_STOP_TIMEOUT_S = 300.0
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
T = TypeVar("T")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


@dataclass(frozen=True)
class FieldError:
    """One validation problem: which file, policy (or None), field, and why."""

    file: str
    policy: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "policy": self.policy,
            "field": self.field,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"policy '{self.policy}'" if self.policy else "file"
        return f"{self.file}: {where}, field '{self.field}': {self.message}"


class Collector:
    """The errors of one file, bounded: a hostile file must not be echoed back (huge names,
    values, many errors)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[FieldError] = []

    def add(self, policy: str | None, field_name: str, message: str) -> None:
        if len(self.errors) > MAX_ERRORS:
            return
        if len(self.errors) == MAX_ERRORS:
            policy, field_name, message = None, "file", f"more than {MAX_ERRORS} errors"
        label = None if policy is None else bounded(policy, 100)
        self.errors.append(FieldError(self.file, label, bounded(field_name, 100), bounded(message)))


def kind(value: Any) -> str:
    """What a YAML value is, in the words of an error message."""
    if value is None:
        return "nothing"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like '500ms', '30s', '5m', '1h', '1d'."""
    if isinstance(value, bool):
        raise ValueError("must be a duration (seconds or '30s', '5m', '1h'), not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match is None:
            raise ValueError(f"'{value}' is not a duration (use seconds or '30s', '5m', '1h')")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    else:
        raise ValueError(f"must be a duration (seconds or '30s', '5m', '1h'), got {kind(value)}")
    if not math.isfinite(seconds):
        raise ValueError("must be a finite duration")
    if seconds < 0:
        raise ValueError(f"must not be negative (got {value})")
    return seconds


def int_in(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, got {kind(value)} {value!r}")
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}, got {value}")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {kind(value)}")
    return value


def validate_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be an http(s) URL string, got {kind(value)}")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value


class _Field:
    """Reads the fields of one mapping and names the field in the error it raises."""

    def __init__(self, raw: dict[Any, Any]) -> None:
        self.raw = raw

    def get(self, key: str, default: Any, check: Callable[[Any], T]) -> T:
        try:
            return check(self.raw.get(key, default))
        except ValueError as exc:
            raise ValueError(f"params.{key}: {exc}") from None


def _restart_params(fields: _Field, allow_scale_to_zero: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stop_timeout_s": fields.get("stop_timeout", RestartArgs().stop_timeout_s, _stop_timeout)
    }
    if fields.get("only_not_running", False, boolean):
        out["only_not_running"] = True
    return out


def _stop_timeout(value: Any) -> float:
    timeout = parse_duration(value)
    if timeout > MAX_STOP_TIMEOUT_S:
        raise ValueError(f"must be at most {MAX_STOP_TIMEOUT_S:g} s, got {timeout}")
    return timeout


def _scale_params(fields: _Field, allow_scale_to_zero: bool) -> dict[str, Any]:
    scale = ScaleArgs()
    step = fields.get("step", scale.step, lambda v: int_in(v, 1, 20))
    low = fields.get("min_replicas", scale.min_replicas, lambda v: int_in(v, 0, 50))
    if low == 0 and not allow_scale_to_zero:
        raise ValueError(
            "params.min_replicas: must be at least 1 (settings.allow_scale_to_zero: true allows 0)"
        )
    high = fields.get("max_replicas", scale.max_replicas, lambda v: int_in(v, 1, 50))
    if low > high:
        raise ValueError(
            f"params.max_replicas: min_replicas ({low}) is above max_replicas ({high})"
        )
    return {"step": step, "min_replicas": low, "max_replicas": high}


def _alert_params(fields: _Field, allow_scale_to_zero: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if fields.raw.get("url") is not None:
        out["url"] = fields.get("url", None, validate_url)
    out["message"] = fields.get("message", AlertArgs().message, _string)
    return out


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {kind(value)}")
    return value


_PARAMS_OF = {
    "restart_container": _restart_params,
    "scale_up": _scale_params,
    "scale_down": _scale_params,
    "alert": _alert_params,
}


def validate_params(action: str, raw: Any, allow_scale_to_zero: bool = False) -> dict[str, Any]:
    """Typed, defaulted parameters for an action; raises ValueError('field: why')."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"params: must be a mapping, got {kind(raw)}")
    unknown = sorted(set(map(str, raw)) - PARAM_KEYS[action])
    if unknown:
        allowed = ", ".join(sorted(PARAM_KEYS[action])) or "none"
        raise ValueError(
            f"params.{unknown[0]}: unknown parameter for {action} (allowed: {allowed})"
        )
    out = _PARAMS_OF[action](_Field(raw), allow_scale_to_zero)
    return args_of(action, out).as_params()
