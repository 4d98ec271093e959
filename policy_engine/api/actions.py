"""GET /actions, GET /actions/{id}, POST /actions (manual, same guards)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from policy_engine.api.deps import get_engine, parse_json, read_body, require_token, validate_model
from policy_engine.models import ActionPage, ActionRecord, ManualAction, Outcome
from policy_engine.policies import ACTIONS, NAME_RE, validate_params
from relia_web.openapi import json_body

router = APIRouter()
_SCALE_PARAMS = {
    "step": {"type": "integer", "minimum": 1, "maximum": 20},
    "min_replicas": {"type": "integer", "minimum": 0, "maximum": 50},
    "max_replicas": {"type": "integer", "minimum": 1, "maximum": 50},
}
_PARAMS: dict[str, dict[str, Any]] = {
    "restart_container": {
        "stop_timeout": {"type": "number", "minimum": 0, "maximum": 300},
        "only_not_running": {"type": "boolean"},
    },
    "scale_up": _SCALE_PARAMS,
    "scale_down": _SCALE_PARAMS,
    "alert": {"message": {"type": "string"}},  # never a URL: see manual_action
}
# The request body as the engine checks it (the per-action params included); only
# min_replicas <= max_replicas is beyond JSON Schema and answered with a 422.
MANUAL_ACTION_SCHEMA: dict[str, Any] = {
    "title": "ManualAction",
    "oneOf": [
        {
            "type": "object",
            "required": ["action", "service"],
            "properties": {
                "action": {"const": action},
                "service": {"type": "string", "pattern": NAME_RE.pattern},
                "params": {"type": "object", "additionalProperties": False, "properties": props},
                "reason": {"type": "string", "maxLength": 500},
                "container": {"type": ["string", "null"], "maxLength": 200},
            },
        }
        for action, props in _PARAMS.items()
    ],
}
MAX_OFFSET = 1_000_000_000  # SQLite integers are 64-bit: a larger offset is a 422, not a 500


@router.get("/actions")
async def list_actions(
    request: Request,
    policy: str | None = Query(default=None, max_length=200),
    service: str | None = Query(default=None, max_length=200),
    action: str | None = Query(default=None, max_length=100),
    outcome: Outcome | None = None,
    since: float | None = Query(default=None, ge=0, allow_inf_nan=False),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> ActionPage:
    items, total = get_engine(request).store.list_actions(
        policy=policy,
        service=service,
        action=action,
        outcome=outcome,
        since=since,
        limit=limit,
        offset=offset,
    )
    return ActionPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/actions/{action_id}")
async def get_action(request: Request, action_id: str) -> ActionRecord:
    record = get_engine(request).store.get_action(action_id)
    if record is None:
        raise HTTPException(404, f"no action '{action_id}'")
    return record


@router.post(
    "/actions",
    dependencies=[Depends(require_token)],
    status_code=201,
    openapi_extra=json_body(MANUAL_ACTION_SCHEMA),
)
async def manual_action(request: Request) -> JSONResponse:
    engine = get_engine(request)
    body = await read_body(request)
    req = validate_model(request, ManualAction, parse_json(request, body))
    problems = []
    if req.action not in ACTIONS:
        problems.append(f"action: unknown action {req.action!r} (known: {', '.join(ACTIONS)})")
    if not NAME_RE.match(req.service):
        problems.append(f"service: must be a compose service name, got {req.service!r}")
    params: dict[str, Any] = {}
    if req.action == "alert" and "url" in req.params:
        # never let a caller pick where the engine POSTs (SSRF): alert URLs come from the
        # policy file (params.url, settings.alert_url) or ALERT_WEBHOOK_URL only
        problems.append("params.url: not allowed in a manual action (set it in the policy file)")
    if req.action in ACTIONS:
        try:
            params = validate_params(req.action, req.params, engine.effective.allow_scale_to_zero)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        engine.metrics.rejected.labels("/actions").inc()
        raise HTTPException(422, {"message": "invalid manual action", "errors": problems})
    record = await engine.manual(req.action, req.service, params, req.reason, req.container)
    return JSONResponse(record.model_dump(), status_code=201)
