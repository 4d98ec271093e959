"""create_app: wires settings, catalog, Prometheus adapter, notifier and the detection loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from anomaly_service.api import anomalies, detect, feedback, ops, read, triage
from anomaly_service.catalog import MetricSpec, load_catalog
from anomaly_service.config import Settings
from anomaly_service.detector import DetectorConfig
from anomaly_service.engine import Engine
from anomaly_service.engine_state import EngineOptions
from anomaly_service.feedback import Limits
from anomaly_service.history import History
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.notifier import HttpNotifier, Notifier
from anomaly_service.platform_reader import PlatformReader, PolicyEngineReader
from anomaly_service.prometheus import PrometheusAdapter, PrometheusSource
from anomaly_service.store import HistoryStore
from relia_web.guard import RequestGuard
from relia_web.openapi import DESCRIPTIONS, AllowHeader, document

DETECT_MAX_BODY_BYTES = 4_000_000
OPENAPI_EXTRA: dict[str, dict[int, str | dict[str, Any]]] = {
    "GET /ready": {503: "Not ready: Prometheus data is stale or unreachable"},
    "POST /anomalies/{anomaly_id}/feedback": {401: DESCRIPTIONS[401]},
    "DELETE /sensitivity/{series_id}": {401: DESCRIPTIONS[401]},
}


def metric_enum(schema: dict[str, Any], names: list[str]) -> None:
    """GET /anomalies?metric= takes a catalog name (anything else is a 422 naming them)."""
    operation = schema.get("paths", {}).get("/anomalies", {}).get("get", {})
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "metric":
            parameter["schema"] = {"type": "string", "enum": names}


def engine_options(settings: Settings) -> EngineOptions:
    return EngineOptions(
        check_interval=settings.check_interval,
        backfill_window_s=settings.backfill_window_s,
        backfill_step_s=settings.backfill_step_s,
        no_data_cycles=settings.no_data_cycles,
        up_selector=settings.up_selector,
        external_url=settings.external_url,
        history_size=settings.history_size,
        evidence_points=settings.evidence_points,
        series_capacity=settings.series_capacity,
        series_ttl_s=settings.series_ttl_s,
    )


def history_for(settings: Settings) -> History:
    store = None
    if settings.state_dir is not None and str(settings.state_dir):
        store = HistoryStore(settings.state_dir / "anomaly-history.sqlite3")
    limits = Limits(
        settings.feedback_step, settings.feedback_max_factor, settings.feedback_max_mute_s
    )
    return History(
        store,
        limits,
        retention_s=settings.history_retention_days * 86400.0,
        keep_resolved=settings.history_size,
        keep_feedback=settings.feedback_max_records,
    )


def create_app(
    settings: Settings,
    prometheus_client_adapter: PrometheusSource | None = None,
    notifier: Notifier | None = None,
    clock: Callable[[], float] = time.time,
    catalog: list[MetricSpec] | None = None,
    run_loop: bool = True,
    platform_reader: PlatformReader | None = None,
) -> FastAPI:
    """Build the app. A bad catalog raises CatalogError here, before anything starts."""
    specs = catalog if catalog is not None else load_catalog(settings.metrics_catalog)
    metrics = ServiceMetrics()
    source = prometheus_client_adapter or PrometheusAdapter(
        settings.prometheus_url,
        settings.prometheus_timeout_s,
        headers=settings.prometheus_request_headers(),
    )
    if notifier is None:
        url = settings.policy_engine_url.rstrip("/")
        notifier = HttpNotifier(
            url=f"{url}/alerts" if url else "",
            token=settings.policy_engine_token,
            queue_size=settings.event_queue_size,
            max_attempts=settings.event_max_attempts,
            backoff_initial_s=settings.event_backoff_initial_s,
            backoff_max_s=settings.event_backoff_max_s,
            timeout_s=settings.event_timeout_s,
            observer=lambda outcome: metrics.events.labels(outcome).inc(),
            clock=clock,
        )
    reader = platform_reader or PolicyEngineReader(
        settings.policy_engine_url, settings.policy_engine_token
    )
    overrides: dict[str, Any] = dict(settings.detector_config)
    # one point per cycle, backfilled ones too: the onset's consensus tier counts time so
    overrides.setdefault("cycle_s", settings.check_interval)
    detector_config = DetectorConfig(**overrides)
    history = history_for(settings)
    engine = Engine(
        specs,
        source,
        notifier,
        clock,
        engine_options(settings),
        metrics,
        detector_config,
        history=history,
    )
    history.restore(engine.tracker, engine.catalog, clock())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await notifier.start()
        task: asyncio.Task[Any] | None = None
        if run_loop:
            task = asyncio.create_task(engine.run_forever(), name="detection-loop")
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Give queued events (a resolve, say) a moment to go out before stopping.
            await notifier.drain(2.0)
            await notifier.stop()
            await source.aclose()
            await reader.aclose()
            if history.store is not None:
                history.store.close()

    app = FastAPI(title="Relia anomaly service", version="0.1.0", lifespan=lifespan)
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.catalog_file = str(settings.metrics_catalog) if catalog is None else "<injected>"
    app.state.prometheus_url = settings.prometheus_url
    app.state.platform_reader = reader
    app.state.token = settings.policy_engine_token
    app.add_exception_handler(RequestValidationError, _validation_error)
    for module in (read, anomalies, feedback, triage, detect, ops):
        app.include_router(module.router)
    # POST /detect: JSON only, same origin, bounded nesting; 100,000 points fit in 4 MB
    app.add_middleware(RequestGuard, max_body_bytes=DETECT_MAX_BODY_BYTES)
    app.add_middleware(AllowHeader, openapi=lambda: app.openapi())
    names = [spec.name for spec in engine.catalog]
    document(app, extra=OPENAPI_EXTRA, patch=lambda schema: metric_enum(schema, names))
    return app


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and why; the offending input is not echoed (it may hold NaN/Inf)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    return JSONResponse({"detail": detail or str(exc)}, status_code=422)
