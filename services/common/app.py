"""The app builder every demo service uses: operational endpoints, metrics, logs, traces, faults."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client.exposition import choose_encoder

from relia_web.guard import RequestGuard
from relia_web.openapi import AllowHeader, document
from services.common.chaos import FaultMiddleware, FaultRuntime, chaos_router
from services.common.config import ServiceSettings
from services.common.logs import ServiceLogger, service_logger
from services.common.metrics import MetricsMiddleware, ServiceMetrics, build_metrics
from services.common.tracing import build_tracer_provider

ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]
Hook = Callable[[], Awaitable[None]]
# OTel matches this regex against the full URL (no query): anchor on the path's first segment
# so /users/health-check would still be traced.
TRACE_EXCLUDED = r"^[a-z]+://[^/]+/(health|ready|metrics|chaos|docs|openapi\.json|redoc)(/.*)?$"

OPENAPI_EXTRA: dict[str, dict[int, str | dict[str, Any]]] = {
    "GET /ready": {503: "Not ready: a dependency does not answer"},
    "POST /chaos": {409: "The fault set is full (at most 32 active): clear some first"},
}


def is_chaos_path(method: str, path: str) -> bool:
    """The fault-injection API is what the request guard protects (not the demo endpoints)."""
    return path == "/chaos" or path.startswith("/chaos/")


@dataclass
class ServiceCore:
    """What every service shares; a domain adds its routers, counters and hooks, then builds."""

    settings: ServiceSettings
    metrics: ServiceMetrics
    log: ServiceLogger
    runtime: FaultRuntime
    tracer_provider: TracerProvider
    on_shutdown: list[Hook] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        settings: ServiceSettings,
        *,
        tracer_provider: TracerProvider | None = None,
        exit_fn: Callable[[int], None] = os._exit,
    ) -> ServiceCore:
        name = settings.service_name
        metrics = build_metrics()
        log = service_logger(name)
        runtime = FaultRuntime(
            name,
            metrics,
            log,
            settings.noise(),
            max_in_flight=settings.max_in_flight,
            queue_timeout_s=settings.queue_timeout_s,
            tick_s=settings.chaos_tick_s,
            exit_fn=exit_fn,
        )
        provider = tracer_provider or build_tracer_provider(name)
        return cls(settings, metrics, log, runtime, provider)

    def http_client(
        self, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> httpx.AsyncClient:
        """An outbound client that propagates the trace context (when instrumentation is on)."""
        client = httpx.AsyncClient(timeout=timeout_s, transport=transport)
        if self.settings.instrumentation_enabled:
            HTTPXClientInstrumentor.instrument_client(
                client, tracer_provider=self.tracer_provider, meter_provider=NoOpMeterProvider()
            )
        self.on_shutdown.append(client.aclose)
        return client

    def _log_request(self, method: str, route: str, status: int, elapsed: float) -> None:
        level = 40 if status >= 500 else 30 if status >= 400 else 20
        self.log.log(
            level,
            f"{method} {route} {status}",
            extra={
                "method": method,
                "route": route,
                "status_code": status,
                "duration_ms": round(elapsed * 1000, 3),
            },
        )

    def build_app(
        self,
        *,
        title: str,
        description: str,
        routers: Sequence[APIRouter],
        readiness: ReadinessCheck | None = None,
    ) -> FastAPI:
        core = self
        name = self.settings.service_name

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await core.runtime.start()
            core.log.info("service started", extra={"port": core.settings.port})
            try:
                yield
            finally:
                await core.runtime.stop()
                for hook in core.on_shutdown:
                    await hook()
                core.tracer_provider.shutdown()
                core.log.info("service stopped")

        app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
        app.state.core = self

        @app.exception_handler(RequestValidationError)
        async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
            # FastAPI's default echoes the input back, and NaN/Inf input then fails to encode
            # (a 500): answer with the location and reason only.
            errors = [
                {"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": e.get("type")}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)

        @app.get("/health", tags=["ops"])
        async def health() -> dict[str, str]:
            """Liveness: the process serves requests."""
            return {"status": "ok", "service": name}

        @app.get("/ready", tags=["ops"])
        async def ready() -> Response:
            """Readiness: the service's dependencies answer."""
            checks = await readiness() if readiness is not None else {}
            ok = all(c.get("ok", False) for c in checks.values())
            body = {"ready": ok, "service": name, "checks": checks}
            return JSONResponse(body, status_code=200 if ok else 503)

        @app.get("/metrics", tags=["ops"])
        async def metrics(request: Request) -> Response:
            # Prometheus asks for OpenMetrics when it can: that format carries the exemplars.
            encoder, content_type = choose_encoder(request.headers.get("accept", ""))
            return Response(encoder(core.metrics.registry), headers={"content-type": content_type})

        app.include_router(chaos_router(self.runtime))
        for router in routers:
            app.include_router(router)

        # add_middleware puts the newest outermost: metrics wrap faults, so injected latency and
        # errors are measured like any other slowness; OTel (below) wraps both.
        app.add_middleware(RequestGuard, guarded=is_chaos_path)  # cross-site, deep JSON
        app.add_middleware(AllowHeader, openapi=lambda: app.openapi())
        document(app, guarded=is_chaos_path, extra=OPENAPI_EXTRA)
        app.add_middleware(FaultMiddleware, runtime=self.runtime)
        if self.settings.instrumentation_enabled:
            app.add_middleware(
                MetricsMiddleware,
                metrics=self.metrics,
                routes=lambda: app.router.routes,
                on_request=self._log_request,
            )
            FastAPIInstrumentor.instrument_app(
                app,
                tracer_provider=self.tracer_provider,
                meter_provider=NoOpMeterProvider(),
                excluded_urls=TRACE_EXCLUDED,
                # One server span per request; the per-message send/receive spans cost CPU
                # and clutter traces without telling an SRE anything.
                exclude_spans=["receive", "send"],
            )
        return app
