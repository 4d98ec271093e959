"""POST /breakers/{target}/reset: an operator closes a target's circuit breaker (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel

from policy_engine.api.deps import get_engine, parse_json, read_body, require_token, validate_model
from policy_engine.models import ActionRecord, BreakerResetBody
from policy_engine.policies import NAME_RE
from relia_contracts.policy_views import BreakerView
from relia_web.openapi import json_body

router = APIRouter()


class BreakerReset(BaseModel):
    """The breaker after the reset, and the audit record of it."""

    breaker: BreakerView
    action: ActionRecord


@router.post(
    "/breakers/{target}/reset",
    dependencies=[Depends(require_token)],
    openapi_extra=json_body(BreakerResetBody.model_json_schema()),
    response_model=BreakerReset,
)
async def reset_breaker(
    request: Request, target: Annotated[str, Path(pattern=NAME_RE.pattern)]
) -> dict[str, Any]:
    """`{"reason": str, "actor": str}`: close the breaker now, clear its failures; the audit
    record (action `breaker_reset`) is returned and listed by GET /actions. 404: the target
    has no breaker; 409: it is closed with no failures already."""
    engine = get_engine(request)
    body = validate_model(request, BreakerResetBody, parse_json(request, await read_body(request)))
    if target not in engine.store.breakers():
        raise HTTPException(404, f"no circuit breaker for {target!r} (it never failed)")
    record = engine.breakers.reset(target, body.reason.strip(), body.actor.strip() or "api")
    if record is None:
        raise HTTPException(409, f"the breaker for {target!r} is closed with no failures")
    return {"breaker": engine.breaker_view(target), "action": record.model_dump()}
