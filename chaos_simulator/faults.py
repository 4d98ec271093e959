"""Fault requests checked locally, before they are sent: the kinds, parameters and bounds are
the services' own (relia_contracts.faults), read from their model fields."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, get_args

import annotated_types
from pydantic.fields import FieldInfo

from relia_contracts.faults import SPEC_BY_KIND


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int or float
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: value must be > low rather than >= low
    required: bool = False


def _param(name: str, info: FieldInfo) -> Param:
    """A CLI parameter check read from the services' own model field (relia_contracts)."""
    kinds = [t for t in (int, float) if t in (info.annotation, *get_args(info.annotation))]
    low: float | None = None
    high: float | None = None
    low_open = False
    for bound in info.metadata:
        if isinstance(bound, annotated_types.Gt):
            low, low_open = float(bound.gt), True  # type: ignore[arg-type]
        elif isinstance(bound, annotated_types.Ge):
            low = float(bound.ge)  # type: ignore[arg-type]
        elif isinstance(bound, annotated_types.Le):
            high = float(bound.le)  # type: ignore[arg-type]
    return Param(name, kinds[0] if kinds else float, low, high, low_open, info.is_required())


FAULT_KINDS: dict[str, tuple[Param, ...]] = {
    kind: tuple(
        _param(name, info)
        for name, info in model.model_fields.items()
        if name not in ("kind", "duration_s")
    )
    for kind, model in SPEC_BY_KIND.items()
}


class FaultError(ValueError):
    """A fault request that would be rejected: the message says what and why."""


def _check(kind: str, param: Param, raw: Any) -> int | float:
    if param.kind is int and isinstance(raw, float) and not raw.is_integer():
        raise FaultError(f"{kind}: {param.name} must be an integer, got {raw!r}")
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
