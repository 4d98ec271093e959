"""GET /plan?service=: what the engine would do about a service now (policy_engine/plan.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from policy_engine.api.deps import get_engine
from policy_engine.plan import plan
from policy_engine.policies import NAME_RE
from relia_contracts.policy_views import PlanView

router = APIRouter()


@router.get("/plan", response_model=PlanView, response_model_exclude_unset=True)
async def get_plan(
    request: Request, service: str = Query(max_length=200, pattern=NAME_RE.pattern)
) -> dict[str, Any]:
    engine = get_engine(request)
    return plan(engine, service, engine.clock())
