"""POST /alerts: Alertmanager webhook v4 in (anomaly service or a real Alertmanager)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from policy_engine.actuator.selection import parse_rfc3339
from policy_engine.api.deps import get_engine, parse_json, read_body, require_token, validate_model
from policy_engine.models import AMWebhook

router = APIRouter()


@router.post("/alerts", dependencies=[Depends(require_token)])
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
