"""GET /api/operators: the active Alertmanager silences and the maintenance windows, as the
policy engine applies them (its GET /silences and GET /maintenance), for the operator panel."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(prefix="/api")


@router.get("/operators")
async def operators(request: Request) -> dict[str, Any]:
    """Each half on its own: a failing call leaves the other shown and says why."""
    policy = request.app.state.policy
    silences = await policy.get("/silences")
    maintenance = await policy.get("/maintenance")
    return {
        "silences": silences.data if silences.ok else None,
        "silences_error": None if silences.ok else f"policy engine: {silences.error}",
        "maintenance": maintenance.data if maintenance.ok else None,
        "maintenance_error": None if maintenance.ok else f"policy engine: {maintenance.error}",
        "server_time": time.time(),
    }
