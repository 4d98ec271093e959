"""Operator feedback: label an anomaly noise/confirmed, per-signal precision, per-series
sensitivity and its reset (anomaly_service/feedback.py has the rules)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from anomaly_service.api.deps import engine, page, require_token
from anomaly_service.records import series_key
from relia_contracts.anomalies import (
    FeedbackAnswer,
    FeedbackPage,
    Precision,
    Sensitivity,
    SensitivityList,
)

router = APIRouter(tags=["feedback"])
MAX_REASON = 500


MAX_MUTE_S = 7 * 86400.0  # FEEDBACK_MAX_MUTE_S may only lower it


def feedback_schema(schema: dict[str, Any]) -> None:
    """What the route accepts, as JSON Schema can say it: a mute only with a noise label."""
    reason = {"type": "string", "minLength": 1, "maxLength": MAX_REASON, "pattern": r"\S"}
    mute = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_MUTE_S}
    schema.clear()
    schema["oneOf"] = [
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["label", "reason"],
            "properties": {
                "label": {"const": "noise"},
                "reason": reason,
                "mute_for_s": {"anyOf": [mute, {"type": "null"}]},
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["label", "reason"],
            "properties": {"label": {"const": "confirmed"}, "reason": reason},
        },
    ]


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=feedback_schema)

    label: Literal["noise", "confirmed"]
    reason: str = Field(min_length=1, max_length=MAX_REASON, pattern=r"\S")
    # noise only: also mute the series this long (seconds)
    mute_for_s: StrictFloat | StrictInt | None = Field(default=None, gt=0, le=MAX_MUTE_S)


@router.post(
    "/anomalies/{anomaly_id}/feedback",
    status_code=201,
    dependencies=[Depends(require_token)],
    response_model=FeedbackAnswer,
)
async def post_feedback(request: Request, anomaly_id: str, body: FeedbackBody) -> dict[str, Any]:
    """Label an anomaly. `noise` widens its series' thresholds (bounded) and may mute it;
    `confirmed` steps back toward the detector's own thresholds. Stored before it applies."""
    eng = engine(request)
    anomaly = eng.tracker.get(anomaly_id)
    if anomaly is None:
        raise HTTPException(404, f"no anomaly {anomaly_id!r} (unknown, or evicted from history)")
    if body.mute_for_s is not None and body.label != "noise":
        raise HTTPException(422, "mute_for_s: only a noise label mutes a series")
    limit = eng.history.limits.max_mute_s
    if body.mute_for_s is not None and body.mute_for_s > limit:
        raise HTTPException(422, f"mute_for_s: at most {limit:g} s (FEEDBACK_MAX_MUTE_S)")
    reason = body.reason.strip()
    mute = None if body.mute_for_s is None else float(body.mute_for_s)
    now = eng.clock()
    async with eng.feedback_lock:
        record, after = await eng.history.label(anomaly, body.label, reason, mute, now)
        eng.apply_sensitivity(series_key(anomaly.metric, anomaly.labels))
    return {"feedback": record.model_dump(), "sensitivity": after.view(now)}


@router.get("/feedback", response_model=FeedbackPage)
def list_feedback(
    request: Request,
    anomaly_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Every stored label, newest first."""
    records = engine(request).history.records
    chosen = [r.model_dump() for r in reversed(records) if anomaly_id in (None, r.anomaly_id)]
    return page(chosen, limit, offset)


@router.get("/feedback/precision", response_model=Precision)
def feedback_precision(request: Request) -> dict[str, Any]:
    """Per signal: confirmed / (confirmed + noise), each anomaly counted once (latest label)."""
    return engine(request).history.precision()


@router.get("/sensitivity", response_model=SensitivityList)
def list_sensitivity(request: Request) -> dict[str, Any]:
    """Series whose sensitivity an operator changed: factor, mute, label counts, and limits."""
    eng = engine(request)
    now = eng.clock()
    limits = eng.history.limits
    items = sorted(
        (s.view(now) for s in eng.history.by_key.values()),
        key=lambda v: (v["service"], v["metric"], sorted(v["labels"].items())),
    )
    return {
        "items": items,
        "limits": {
            "step": limits.step,
            "max_factor": limits.max_factor,
            "max_mute_s": limits.max_mute_s,
        },
    }


@router.delete(
    "/sensitivity/{series_id}", dependencies=[Depends(require_token)], response_model=Sensitivity
)
async def reset_sensitivity(request: Request, series_id: str) -> dict[str, Any]:
    """Back to the detector's own thresholds and no mute (the label counts stay)."""
    eng = engine(request)
    async with eng.feedback_lock:
        after = await eng.history.reset(series_id, eng.clock())
        if after is None:
            raise HTTPException(404, f"no sensitivity set for series {series_id!r}")
        eng.apply_sensitivity(series_key(after.metric, after.labels))
    return after.view(eng.clock())
