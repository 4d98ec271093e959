"""POST /detect: classify a series the caller sends, with the service's own detector core."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, StrictFloat, StrictInt, field_validator

from anomaly_service.api.deps import engine
from anomaly_service.detector import Direction, score_series
from relia_contracts.severity import SEVERITIES, SeverityWord

router = APIRouter(tags=["detect"])

MAX_POINTS = 100_000
# No signal is anywhere near this; past it the detector's arithmetic overflows (1.8e308 -> 500).
MAX_ABS_VALUE = 1e15
_BOUNDED_NUMBER: dict[str, Any] = {
    "type": "number",
    "minimum": -MAX_ABS_VALUE,
    "maximum": MAX_ABS_VALUE,
}


class DetectRequest(BaseModel):
    """`values`: numbers in time order; null (or NaN) marks a missing point."""

    values: list[StrictFloat | StrictInt | None] = Field(
        ...,
        max_length=MAX_POINTS,
        # at least one number among the nulls, as _usable checks
        json_schema_extra={
            "minItems": 1,
            "contains": {"type": "number"},
            "items": {"anyOf": [_BOUNDED_NUMBER, {"type": "null"}]},
        },
    )
    direction: Literal["up", "down", "both"] = "both"
    floor: StrictFloat | StrictInt | None = Field(
        default=None, json_schema_extra={"anyOf": [_BOUNDED_NUMBER, {"type": "null"}]}
    )

    @field_validator("values")
    @classmethod
    def _usable(cls, values: list[float | int | None]) -> list[float | int | None]:
        if not values:
            raise ValueError("must contain at least one number")
        finite = 0
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if math.isinf(v):
                raise ValueError(f"values[{i}] is infinite; send null for a missing point")
            if abs(v) > MAX_ABS_VALUE:
                raise ValueError(f"values[{i}] is out of range (at most {MAX_ABS_VALUE:g} in size)")
            finite += 1
        if finite == 0:
            raise ValueError("contains no number (only null/NaN)")
        return values

    @field_validator("floor")
    @classmethod
    def _finite_floor(cls, v: float | int | None) -> float | int | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        if v is not None and abs(v) > MAX_ABS_VALUE:
            raise ValueError(f"is out of range (at most {MAX_ABS_VALUE:g} in size)")
        return v


class DetectAnswer(BaseModel):
    """`POST /detect`: per point (null: not scored, e.g. warming up), and where anomalies open."""

    points: int
    direction: Literal["up", "down", "both"]
    floor: float | int | None  # as sent
    baseline: list[float | None]
    lower: list[float | None]
    upper: list[float | None]
    score: list[float | None]
    severity: list[SeverityWord]
    open: list[bool]
    warming: list[bool]
    anomalous_indices: list[int]
    max_severity: SeverityWord


def _clean(array: Any) -> list[Any]:
    out: list[Any] = []
    for v in np.asarray(array).tolist():
        out.append(None if isinstance(v, float) and not math.isfinite(v) else v)
    return out


@router.post("/detect", response_model=DetectAnswer)
def detect(request: Request, body: DetectRequest) -> dict[str, Any]:
    """Per-point baseline, band, score and severity, plus the indices where an anomaly is open."""
    config = engine(request).config
    values = np.array([math.nan if v is None else float(v) for v in body.values], dtype=float)
    try:
        result = score_series(
            values,
            config,
            Direction.parse(body.direction),
            None if body.floor is None else float(body.floor),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    severity = [SEVERITIES[int(s)] for s in np.asarray(result.severity).tolist()]
    is_open = [bool(x) for x in np.asarray(result.open).tolist()]
    return {
        "points": len(body.values),
        "direction": body.direction,
        "floor": body.floor,
        "baseline": _clean(result.baseline),
        "lower": _clean(result.lower),
        "upper": _clean(result.upper),
        "score": _clean(result.score),
        "severity": severity,
        "open": is_open,
        "warming": [bool(x) for x in np.asarray(result.warming).tolist()],
        "anomalous_indices": [i for i, o in enumerate(is_open) if o],
        "max_severity": max(severity, key=SEVERITIES.index) if severity else "normal",
    }
