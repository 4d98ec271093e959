"""Operator feedback and the breaker reset, proxied with the dashboard's own token.

The browser never holds a token: these routes call the anomaly service (feedback, sensitivity,
precision) and the policy engine (breakers) server-side, as POST /api/toggle does. A backend's
own refusal of the input (404, 409, 422) is passed on with its reason."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from dashboard.clients import BackendClient, BackendError
from dashboard.routes.api import ANOMALY_ID, _same_origin

router = APIRouter(prefix="/api")
PASSED_ON = (404, 409, 422)


def feedback_schema(schema: dict[str, Any]) -> None:
    """The anomaly service's rule in the schema: a mute only with a noise label (the
    service checks its own, possibly lower, mute limit)."""
    reason = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": r"\S"}
    mute = {"type": "number", "exclusiveMinimum": 0, "maximum": 7 * 86400}
    base = {"type": "object", "additionalProperties": False, "required": ["label", "reason"]}
    schema.clear()
    schema["oneOf"] = [
        {
            **base,
            "properties": {
                "label": {"const": "noise"},
                "reason": reason,
                "mute_for_s": {"anyOf": [mute, {"type": "null"}]},
            },
        },
        {**base, "properties": {"label": {"const": "confirmed"}, "reason": reason}},
    ]


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=feedback_schema)
    label: Literal["noise", "confirmed"]
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")
    mute_for_s: StrictFloat | StrictInt | None = Field(default=None, gt=0, le=7 * 86400)

    @model_validator(mode="after")
    def _mute_with_noise(self) -> FeedbackBody:
        if self.mute_for_s is not None and self.label != "noise":
            raise ValueError("mute_for_s: only a noise label mutes a series")
        return self


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


def _checked(request: Request, value: str, what: str) -> None:
    if not _same_origin(request):
        raise HTTPException(403, "cross-origin request refused")
    if not ANOMALY_ID.fullmatch(value):
        raise HTTPException(422, f"{what} must be 1-128 letters, digits, '-', '_' or '.'")


async def _call(backend: BackendClient, name: str, method: str, path: str, json: Any = None) -> Any:
    try:
        return await backend.request(method, path, json=json)
    except BackendError as exc:
        if exc.status in (401, 403):
            raise HTTPException(
                502,
                f"{name} refused the dashboard's credentials (HTTP {exc.status}); "
                "check POLICY_ENGINE_TOKEN",
            ) from None
        if exc.status in PASSED_ON:
            raise HTTPException(exc.status, f"{name}: {exc}") from None
        raise HTTPException(502, f"{name}: {exc}") from None


@router.get("/feedback/state")
async def feedback_state(request: Request, anomaly_id: str | None = None) -> dict[str, Any]:
    """Precision per signal, every changed sensitivity, and (with anomaly_id) that anomaly's
    labels and series sensitivity. A part that failed is null with its error."""
    anomaly = request.app.state.anomaly
    precision = await anomaly.get("/feedback/precision")
    sensitivity = await anomaly.get("/sensitivity")
    body: dict[str, Any] = {
        "precision": precision.data if precision.ok else None,
        "sensitivity": sensitivity.data if sensitivity.ok else None,
        "error": precision.error or sensitivity.error,
        "anomaly": None,
    }
    if anomaly_id is not None and ANOMALY_ID.fullmatch(anomaly_id):
        one = await anomaly.get(f"/anomalies/{anomaly_id}")
        if one.ok and isinstance(one.data, dict):
            keep = ("id", "service", "metric", "status", "series_id", "sensitivity")
            body["anomaly"] = {k: one.data.get(k) for k in keep}
            body["anomaly"]["feedback_records"] = one.data.get("feedback_records", [])
        else:
            body["error"] = body["error"] or one.error
    return body


@router.post("/anomalies/{anomaly_id}/feedback", status_code=201)
async def post_feedback(anomaly_id: str, body: FeedbackBody, request: Request) -> Any:
    _checked(request, anomaly_id, "anomaly id")
    return await _call(
        request.app.state.anomaly,
        "anomaly service",
        "POST",
        f"/anomalies/{anomaly_id}/feedback",
        body.model_dump(exclude_none=True),
    )


@router.delete("/sensitivity/{series_id}")
async def reset_sensitivity(series_id: str, request: Request) -> Any:
    _checked(request, series_id, "series id")
    return await _call(
        request.app.state.anomaly, "anomaly service", "DELETE", f"/sensitivity/{series_id}"
    )


@router.get("/breakers")
async def breakers(request: Request) -> dict[str, Any]:
    """Every target's circuit breaker, as the policy engine's /status shows it."""
    status = await request.app.state.policy.get("/status")
    found = status.data.get("breakers") if status.ok and isinstance(status.data, dict) else None
    return {"breakers": found if isinstance(found, dict) else None, "error": status.error}


@router.post("/breakers/{target}/reset")
async def reset_breaker(target: str, body: ResetBody, request: Request) -> Any:
    _checked(request, target, "target")
    answer = await _call(
        request.app.state.policy,
        "policy engine",
        "POST",
        f"/breakers/{target}/reset",
        {"reason": body.reason, "actor": "dashboard"},
    )
    request.app.state.poller.kick()
    return answer
