"""create_app: the dashboard's FastAPI server (static page + backend-for-frontend API + SSE)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Gauge

from dashboard.clients import BackendClient
from dashboard.config import Settings
from dashboard.hub import Hub
from dashboard.links import PublicLinks
from dashboard.poller import Poller
from dashboard.routes import api, events, feedback, operators, ops, pages
from dashboard.routes.api import ANOMALY_ID
from relia_web.guard import RequestGuard
from relia_web.openapi import AllowHeader, document

OPENAPI_EXTRA: dict[str, dict[int, str | dict[str, Any]]] = {
    "GET /ready": {503: "Not ready: the first poll of the backends has not run yet"},
    "GET /api/anomalies/{anomaly_id}": {502: "The anomaly service failed or answered badly"},
    "POST /api/toggle": {502: "The policy engine failed, refused our token or answered badly"},
    "POST /api/anomalies/{anomaly_id}/feedback": {502: "The anomaly service failed or refused"},
    "DELETE /api/sensitivity/{series_id}": {502: "The anomaly service failed or refused"},
    "POST /api/breakers/{target}/reset": {
        409: "The breaker is closed with no failures already",
        502: "The policy engine failed, refused our token or answered badly",
    },
}


ID_PARAMETERS = {"anomaly_id", "series_id", "target"}


def anomaly_id_pattern(schema: dict[str, Any]) -> None:
    """The id rule the routes check (ANOMALY_ID) on every id in a path, in the schema."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") in ID_PARAMETERS:
                    parameter["schema"] = {"type": "string", "pattern": f"^{ANOMALY_ID.pattern}$"}


STATIC_DIR = Path(__file__).with_name("static")


def create_app(
    settings: Settings,
    *,
    http_client: httpx.AsyncClient | None = None,
    registry: CollectorRegistry | None = None,
    start_poller: bool = True,
) -> FastAPI:
    """Build the app. Tests inject `http_client` (e.g. on an httpx.MockTransport)."""
    registry = registry or CollectorRegistry()
    client = http_client or httpx.AsyncClient(timeout=settings.request_timeout_s)
    hub = Hub()
    links = PublicLinks(
        grafana_url=settings.grafana_url,
        grafana_path=settings.grafana_dashboard_path,
        jaeger_url=settings.jaeger_url,
        prometheus_url=settings.prometheus_url,
    )
    Gauge(
        "dashboard_event_stream_clients", "Browsers connected to /api/events", registry=registry
    ).set_function(lambda: hub.clients)
    # the same operator token: feedback and sensitivity resets are write routes there too
    anomaly = BackendClient(client, settings.anomaly_service_url, settings.policy_engine_token)
    policy = BackendClient(client, settings.policy_engine_url, settings.policy_engine_token)
    poller = Poller(
        anomaly,
        policy,
        hub,
        poll_interval_s=settings.poll_interval_s,
        stale_after_s=settings.stale_after_s,
        links=links,
        registry=registry,
        sparkline_points=settings.sparkline_points,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(poller.run()) if start_poller else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if http_client is None:
                await client.aclose()

    app = FastAPI(
        title="Relia dashboard",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.poller = poller
    app.state.hub = hub
    app.state.registry = registry
    app.state.anomaly = anomaly
    app.state.policy = policy
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(feedback.router)
    app.include_router(operators.router)
    app.include_router(events.router)
    app.include_router(ops.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # pinned Host, never framed, JSON-only same-origin POSTs (relia_web/guard.py)
    app.add_middleware(RequestGuard, allowed_hosts=settings.served_hosts(), deny_framing=True)
    app.add_middleware(AllowHeader, openapi=lambda: app.openapi())
    document(app, host_pinned=True, extra=OPENAPI_EXTRA, patch=anomaly_id_pattern)
    return app
