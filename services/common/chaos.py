"""Fault runtime: applies the fault engine's decisions to real requests and real resources."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from relia_contracts.faults import FAULT_SPEC_ADAPTER, KINDS, CrashFault, FaultSpec
from relia_web.openapi import inline_defs
from services.common.fault_workers import CpuBurner, MemoryHog
from services.common.faults import (
    Fault,
    FaultRequestError,
    FaultSet,
    NoiseConfig,
    TooManyFaults,
    parse_fault,
)
from services.common.logs import ServiceLogger
from services.common.metrics import ServiceMetrics, is_operational


class FaultRuntime:
    """Owns the active fault set of one app and the workers that make faults real."""

    def __init__(
        self,
        service: str,
        metrics: ServiceMetrics,
        logger: ServiceLogger,
        noise: NoiseConfig,
        max_in_flight: int = 64,
        queue_timeout_s: float = 10.0,
        tick_s: float = 0.2,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        exit_fn: Callable[[int], None] = os._exit,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.log = logger
        self.noise = noise
        self.faults = FaultSet()
        self.clock = clock
        self.rng = rng or random.Random()
        self.exit_fn = exit_fn
        self.tick_s = tick_s
        self.queue_timeout_s = queue_timeout_s
        self.slots = asyncio.Semaphore(max_in_flight)
        self.cpu = CpuBurner()
        self.memory = MemoryHog()
        self._hang_release = asyncio.Event()
        self._hung = 0
        self._last_tick = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._last_tick = time.monotonic()
        self._task = asyncio.create_task(self._ticker(), name="chaos-ticker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.faults.clear()
        self.reconcile()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                self.reconcile()
            except Exception:  # the ticker must survive anything a worker throws
                self.log.exception("chaos reconcile failed")

    # -- the fault API ---------------------------------------------------------------------
    def add(self, spec: FaultSpec) -> Fault:
        """Activate a validated fault (raises TooManyFaults when the set is full)."""
        fault = self.faults.add(spec, self.clock())
        self.log.warning(
            "fault injected", extra={"fault_id": fault.id, "kind": fault.kind, **spec.params()}
        )
        self.reconcile()
        return fault

    def remove(self, fault_id: str) -> Fault | None:
        fault = self.faults.remove(fault_id)
        if fault is not None:
            self.log.warning("fault cleared", extra={"fault_id": fault.id, "kind": fault.kind})
            self.reconcile()
        return fault

    def clear(self) -> int:
        gone = self.faults.clear()
        if gone:
            self.log.warning("faults cleared", extra={"count": len(gone)})
        self.reconcile()
        return len(gone)

    def active(self) -> list[Fault]:
        return self.faults.active(self.clock())

    @property
    def hung_requests(self) -> int:
        return self._hung

    def reconcile(self) -> None:
        """Bring workers in line with the active set: expiry, CPU, memory, hang release."""
        now = self.clock()
        for fault in self.faults.expire(now):
            self.log.warning("fault expired", extra={"fault_id": fault.id, "kind": fault.kind})
        elapsed = time.monotonic() - self._last_tick
        self._last_tick = time.monotonic()
        self.cpu.set_intensity(self.faults.cpu_intensity(now))
        target = self.faults.memory_target(now, self.memory.held_mb, elapsed)
        if target <= 0:
            self.memory.release()
        elif target > self.memory.held_mb:
            self.memory.grow_to(target)
        if not self.faults.hanging(now) and self._hung:
            # Release every parked request; later hangs wait on a fresh event.
            self._hang_release.set()
            self._hang_release = asyncio.Event()
        counts = {kind: 0 for kind in KINDS}
        for fault in self.faults.active(now):
            counts[fault.kind] += 1
        for kind, count in counts.items():
            self.metrics.faults_active.labels(kind).set(count)

    async def crash_soon(self, exit_code: int, delay_s: float = 0.1) -> None:
        """Called after the 201 was sent: exit the process like a crash (no graceful shutdown)."""
        await asyncio.sleep(delay_s)
        self.log.error("crashing on request", extra={"exit_code": exit_code})
        sys.stdout.flush()
        sys.stderr.flush()
        self.exit_fn(exit_code)

    # -- per request -----------------------------------------------------------------------
    async def apply(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.wait_for(self.slots.acquire(), timeout=self.queue_timeout_s)
        except TimeoutError:
            self.metrics.rejected.inc()
            await _send_json(send, 503, {"detail": "service saturated: no free worker slot"})
            return
        self.metrics.in_flight.inc()
        try:
            decision = self.faults.decide(self.clock(), self.rng, self.noise)
            if decision.hang:
                self.metrics.faults_applied.labels("hang").inc()
                release = self._hang_release
                self._hung += 1
                try:
                    await release.wait()
                finally:
                    self._hung -= 1
            if decision.delay_s > 0:
                self.metrics.faults_applied.labels("latency").inc()
                await asyncio.sleep(decision.delay_s)
            if decision.error_status is not None:
                self.metrics.faults_applied.labels("errors").inc()
                await _send_json(
                    send,
                    decision.error_status,
                    {"detail": "injected fault", "faults": list(decision.fault_ids)},
                )
                return
            await app(scope, receive, send)
        finally:
            self.metrics.in_flight.dec()
            self.slots.release()


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class FaultMiddleware:
    """Pure ASGI: domain requests go through the fault runtime, operational ones never do."""

    def __init__(self, app: ASGIApp, runtime: FaultRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_operational(scope["path"]):
            await self.app(scope, receive, send)
            return
        await self.runtime.apply(self.app, scope, receive, send)


def chaos_router(runtime: FaultRuntime) -> APIRouter:
    router = APIRouter(prefix="/chaos", tags=["chaos"])
    schema = FAULT_SPEC_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")

    @router.get("")
    async def get_faults() -> dict[str, Any]:
        return {"service": runtime.service, "faults": [f.to_dict() for f in runtime.active()]}

    @router.post(
        "",
        status_code=201,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": inline_defs(schema)}},
            }
        },
    )
    async def inject(request: Request, background: BackgroundTasks) -> Any:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse({"detail": "the body is not valid JSON"}, status_code=422)
        try:
            spec = parse_fault(body)
            fault = runtime.add(spec)
        except TooManyFaults as exc:  # a valid fault, but the set is full: a conflict
            return JSONResponse({"detail": exc.message, "errors": exc.errors}, status_code=409)
        except FaultRequestError as exc:
            return JSONResponse({"detail": exc.message, "errors": exc.errors}, status_code=422)
        if isinstance(fault.spec, CrashFault):
            background.add_task(runtime.crash_soon, fault.spec.exit_code)
        return fault.to_dict()

    @router.delete("")
    async def clear_all() -> dict[str, int]:
        return {"cleared": runtime.clear()}

    @router.delete("/{fault_id}")
    async def clear_one(fault_id: str) -> Any:
        fault = runtime.remove(fault_id)
        if fault is None:
            return JSONResponse({"detail": f"no active fault {fault_id!r}"}, status_code=404)
        return {"cleared": 1, "fault": fault.to_dict()}

    return router
