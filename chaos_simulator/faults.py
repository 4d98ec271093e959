"""Pure fault specs: the kinds of contracts.md, their parameters and local validation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int or float
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: value must be > low rather than >= low
    required: bool = False


FAULT_KINDS: dict[str, tuple[Param, ...]] = {
    "latency": (
        Param("ms", float, 0, None, low_open=True, required=True),
        Param("jitter_ms", float, 0),
        Param("probability", float, 0, 1),
    ),
    "errors": (
        Param("rate", float, 0, 1, required=True),
        Param("status", int, 500, 599),
    ),
    "cpu": (Param("intensity", float, 0, 1),),
    "memory": (
        Param("mb_per_s", float, 0, None, low_open=True, required=True),
        Param("max_mb", float, 0, None, low_open=True),
    ),
    "hang": (Param("probability", float, 0, 1),),
    "crash": (Param("exit_code", int, 0, 255),),
}


class FaultError(ValueError):
    """A fault request that would be rejected: the message says what and why."""


def _check(kind: str, param: Param, raw: Any) -> int | float:
    try:
        value: int | float = param.kind(raw)
    except (TypeError, ValueError):
        raise FaultError(
            f"{kind}: {param.name} must be {'an integer' if param.kind is int else 'a number'}, "
            f"got {raw!r}"
        ) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise FaultError(f"{kind}: {param.name} must be finite, got {raw!r}")
    if param.low is not None and (value <= param.low if param.low_open else value < param.low):
        bound = f"> {param.low:g}" if param.low_open else f">= {param.low:g}"
        raise FaultError(f"{kind}: {param.name} must be {bound}, got {value:g}")
    if param.high is not None and value > param.high:
        raise FaultError(f"{kind}: {param.name} must be <= {param.high:g}, got {value:g}")
    return value


def build_fault(
    kind: str, params: dict[str, Any], duration_s: float | None = None
) -> dict[str, Any]:
    """The POST /chaos body for `kind`, or FaultError naming the bad field."""
    if kind not in FAULT_KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    spec = {p.name: p for p in FAULT_KINDS[kind]}
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise FaultError(
            f"{kind}: unknown parameter(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(spec) or 'none'}"
        )
    body: dict[str, Any] = {"kind": kind}
    for name, param in spec.items():
        if params.get(name) is None:
            if param.required:
                raise FaultError(f"{kind}: --{name.replace('_', '-')} is required")
            continue
        body[name] = _check(kind, param, params[name])
    if duration_s is not None:
        if not math.isfinite(duration_s) or duration_s <= 0:
            raise FaultError(f"{kind}: duration must be > 0 seconds, got {duration_s:g}")
        body["duration_s"] = duration_s
    return body


def parse_assignments(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--param key=value` pairs into a dict (names may use - or _)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise FaultError(f"--param expects key=value, got {pair!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out
