"""GET /changes?service=&since=: container lifecycle events of a service (triage's changes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from policy_engine.actuator.calls import ActionFailed
from policy_engine.api.deps import get_engine
from policy_engine.policies import NAME_RE
from relia_contracts.policy_views import ContainerChanges

router = APIRouter()
MAX_LOOKBACK_S = 86_400.0


@router.get(
    "/changes",
    responses={503: {"description": "the Docker daemon did not answer"}},
    response_model=ContainerChanges,
)
async def list_changes(
    request: Request,
    service: str = Query(max_length=200, pattern=NAME_RE.pattern),
    since: float | None = Query(default=None, ge=0, allow_inf_nan=False),
) -> dict[str, Any]:
    """Starts, deaths, OOM kills, stops and removals of the service's containers (any cause:
    Relia, an operator, a redeploy), oldest first; the last 30 minutes by default."""
    engine = get_engine(request)
    now = engine.clock()
    start = max(now - MAX_LOOKBACK_S, now - 1800.0 if since is None else since)
    try:
        items = await engine.actuator.changes(service, start, now)
    except ActionFailed as exc:
        raise HTTPException(503, str(exc)) from None
    return {"service": service, "since": start, "items": [c.model_dump() for c in items]}
