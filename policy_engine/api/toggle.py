"""POST /toggle: pause or resume automatic remediation (persisted, audited)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from policy_engine.api.deps import get_engine, parse_json, read_body, require_token, validate_model
from policy_engine.models import ToggleBody
from relia_contracts.policy_views import Toggled
from relia_web.openapi import json_body

router = APIRouter()


@router.post(
    "/toggle",
    dependencies=[Depends(require_token)],
    openapi_extra=json_body(ToggleBody.model_json_schema(), required=False),
    response_model=Toggled,
)
async def toggle(request: Request) -> dict[str, bool]:
    """`{"enabled": bool}` sets; an empty body flips."""
    engine = get_engine(request)
    body = await read_body(request)
    value: bool | None = None
    if body.strip():
        value = validate_model(request, ToggleBody, parse_json(request, body)).enabled
    return {"enabled": engine.set_enabled(value)}
