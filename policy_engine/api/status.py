"""GET /status, /health, /ready, /metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from policy_engine.api.deps import get_engine
from policy_engine.engine import Engine
from relia_contracts.policy_views import PolicyEngineStatus

router = APIRouter()


def policies_block(engine: Engine) -> dict[str, Any]:
    state = engine.policies
    active = state.active
    errors = [e.as_dict() for e in state.errors]
    return {
        "valid": state.valid,
        "version": active.version if active else None,
        "file_version": state.file_version,
        "loaded_at": state.loaded_at,
        "count": len(active.policies) if active else 0,
        "file": engine.file,
        "error": errors[0] if errors else None,
        "errors": errors,
        "running_last_good": bool(errors) and active is not None,
        "from_store": state.from_store,
    }


@router.get("/status", response_model=PolicyEngineStatus)
async def status(request: Request) -> dict[str, Any]:
    engine = get_engine(request)
    now = engine.clock()
    snap = engine.fresh_snapshot()
    return {
        "enabled": engine.enabled,
        "dry_run": engine.effective_dry_run,
        "ready": engine.policies.active is not None,
        "policies": policies_block(engine),
        "docker": {"reachable": engine.docker_reachable},
        "alertmanager": engine.am.view(),
        "anomaly_service": {
            "url": engine.snapshots.base_url,
            "snapshot_at": engine.snapshot.fetched_at if engine.snapshot else None,
            "fresh": snap is not None,
            "error": engine.snapshots.last_error,
        },
        "last_evaluation_at": engine.last_evaluation_at,
        "check_interval_s": engine.settings.check_interval,
        "actions": {
            "total": engine.store.count_actions(),
            "last_hour": engine.store.count_actions(since=now - 3600),
        },
        "breakers": {t: engine.breaker_view(t) for t in engine.store.breakers()},
        "vocabulary": request.app.state.vocabulary.view(),
    }


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> Response:
    """Ready when the store answers and a valid policy set is active."""
    engine = get_engine(request)
    problems = []
    if not engine.store.ping():
        problems.append("state store unavailable")
    if engine.policies.active is None:
        problems.append("no valid policies loaded")
    body = {
        "ready": not problems,
        "problems": problems,
        "docker_reachable": engine.docker_reachable,
    }
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = get_engine(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
