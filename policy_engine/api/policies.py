"""GET /policies and POST /policies/reload."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from policy_engine.api.deps import get_engine, require_token
from policy_engine.api.status import policies_block
from policy_engine.engine import Engine
from policy_engine.reload_thread import reload_off_loop
from relia_contracts.policy_views import PoliciesView

router = APIRouter()


def policies_body(engine: Engine) -> dict[str, Any]:
    block = policies_block(engine)
    active = engine.policies.active
    items = [engine.policy_view(p) for p in active.policies] if active else []
    return {**block, "items": items, "settings": _settings(engine)}


def _settings(engine: Engine) -> dict[str, Any]:
    eff = engine.effective
    return {
        "budgets": {
            "per_service": eff.per_service_budget.as_dict() if eff.per_service_budget else None,
            "global": eff.global_budget.as_dict() if eff.global_budget else None,
        },
        "verification_window_s": eff.verification_window_s,
        "grace_period_s": eff.grace_period_s,
        "breaker": {"failures": eff.breaker.failures, "open_for_s": eff.breaker.open_for_s},
        "dry_run": eff.dry_run,
        "manual_cooldown_s": eff.manual_cooldown_s,
        "target_cooldown": eff.target_cooldown,
        "allow_scale_to_zero": eff.allow_scale_to_zero,
    }


@router.get("/policies", response_model=PoliciesView)
async def list_policies(request: Request) -> dict[str, Any]:
    return policies_body(get_engine(request))


@router.post("/policies/reload", dependencies=[Depends(require_token)], response_model=PoliciesView)
async def reload_policies(request: Request, response: Response) -> dict[str, Any]:
    """Re-read the file now; 422 when it is invalid (the last good set keeps running)."""
    engine = get_engine(request)
    await reload_off_loop(engine, force=True)  # parse off the event loop, one at a time
    response.status_code = 200 if engine.policies.valid else 422
    return policies_body(engine)
