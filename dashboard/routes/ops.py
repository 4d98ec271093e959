"""Liveness, readiness and the dashboard's own metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request, response: Response) -> dict[str, object]:
    """Ready once the first poll ran: backends being down is shown in the page, not a 503."""
    polled = request.app.state.hub.snapshot is not None
    if not polled:
        response.status_code = 503
    return {"ready": polled}


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
