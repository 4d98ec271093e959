"""POST /alerts: Alertmanager webhook v4 in (anomaly service or a real Alertmanager)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from policy_engine.actuator.selection import parse_rfc3339
from policy_engine.api.deps import get_engine, parse_json, read_body, require_token, validate_model
from policy_engine.models import AMWebhook
from relia_contracts.policy_views import AlertIntake
from relia_web.openapi import json_body

router = APIRouter()
_BOUNDED_STRINGS = {
    "type": "object",
    "maxProperties": 100,
    "propertyNames": {"maxLength": 200},
    "additionalProperties": {"type": "string", "maxLength": 4000},
}


def webhook_schema() -> dict[str, Any]:
    """AMWebhook's JSON Schema plus the checks its validators make (version 4, bounded maps)."""
    schema = AMWebhook.model_json_schema()
    schema["properties"]["version"] = {"const": "4", "default": "4"}
    alert = schema["$defs"]["AMAlert"]["properties"]
    for name in ("labels", "annotations"):
        alert[name] = {**alert[name], **_BOUNDED_STRINGS}
    return schema


@router.post(
    "/alerts",
    dependencies=[Depends(require_token)],
    openapi_extra=json_body(webhook_schema()),
    response_model=AlertIntake,
)
async def receive_alerts(request: Request) -> dict[str, Any]:
    engine = get_engine(request)
    received_at = engine.clock()
    body = await read_body(request)
    hook = validate_model(request, AMWebhook, parse_json(request, body))
    firing = [alert for alert in hook.alerts if alert.status == "firing"]
    if firing:  # judge them with the other signals of their own cycle
        starts = [parse_rfc3339(alert.startsAt) for alert in firing]
        known = [t for t in starts if t is not None]
        await engine.refresh_snapshot(max(known) if len(known) == len(starts) else None)
    return engine.handle_webhook(hook, received_at)
