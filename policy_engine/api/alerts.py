"""POST /alerts: Alertmanager webhook v4 in (anomaly service or a real Alertmanager)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from policy_engine.api.deps import get_engine, parse_json, read_body, require_token, validate_model
from policy_engine.models import AMWebhook

router = APIRouter()


@router.post("/alerts", dependencies=[Depends(require_token)])
async def receive_alerts(request: Request) -> dict[str, Any]:
    engine = get_engine(request)
    received_at = engine.clock()
    body = await read_body(request)
    hook = validate_model(request, AMWebhook, parse_json(request, body))
    if any(alert.status == "firing" for alert in hook.alerts):
        await engine.refresh_snapshot()  # the other signals of the event's cycle
    return engine.handle_webhook(hook, received_at)
