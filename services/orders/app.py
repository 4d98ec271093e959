"""orders: create_app(settings) wires users -> pricing -> payments into the service core."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Query
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool

from relia_web.openapi import error_response
from services.common.app import ServiceCore
from services.common.outbound import DownstreamError, call_service
from services.common.store import BoundedStore
from services.orders.config import OrdersSettings
from services.orders.domain import Order, OrderCreate, new_order_id, price


def orders_router(
    core: ServiceCore,
    settings: OrdersSettings,
    client: httpx.AsyncClient,
    store: BoundedStore[Order],
) -> APIRouter:
    router = APIRouter(prefix="/orders", tags=["orders"])
    registry = core.metrics.registry
    created = Counter(
        "orders_created_total", "Orders created, by status.", ["status"], registry=registry
    )
    failed = Counter(
        "orders_failed_total", "Orders not created, by reason.", ["reason"], registry=registry
    )
    instrumented = core.settings.instrumentation_enabled
    duration = core.metrics.client_duration if instrumented else None
    users_url = settings.users_url.rstrip("/")
    payments_url = settings.payments_url.rstrip("/")

    @router.post(
        "",
        status_code=201,
        responses={
            422: error_response(422, "Invalid order, or the customer does not exist"),
            502: error_response(502, "users or payments failed or are unreachable"),
            504: error_response(504, "users or payments timed out"),
        },
    )
    async def create_order(data: OrderCreate) -> Order:
        try:
            user_url = f"{users_url}/users/{quote(data.customer_id, safe='')}"
            user_resp = await call_service(client, duration, "users", "GET", user_url)
            if user_resp.status_code == 404:
                failed.labels("unknown_customer").inc()
                raise HTTPException(422, f"unknown customer {data.customer_id!r}")
            if user_resp.status_code != 200:
                raise DownstreamError("users", 502, f"users answered {user_resp.status_code}")
            gold = user_resp.json().get("tier") == "gold"
            # Pricing is CPU work: off the event loop, like payments' fraud score.
            quote_ = await run_in_threadpool(price, data.items, gold, settings.pricing_rounds)
            order_id = new_order_id()
            pay_resp = await call_service(
                client,
                duration,
                "payments",
                "POST",
                f"{payments_url}/payments/authorize",
                json={
                    "order_id": order_id,
                    "customer_id": data.customer_id,
                    "amount": quote_.total,
                },
            )
            if pay_resp.status_code != 200:
                raise DownstreamError("payments", 502, f"payments answered {pay_resp.status_code}")
            payment = pay_resp.json()
        except DownstreamError as exc:
            failed.labels(f"{exc.service}_failed").inc()
            core.log.error(
                "order failed: downstream", extra={"downstream": exc.service, "error": exc.message}
            )
            raise HTTPException(exc.status, exc.message) from None
        order = Order(
            id=order_id,
            customer_id=data.customer_id,
            items=data.items,
            status="confirmed" if payment.get("status") == "approved" else "declined",
            payment_id=payment.get("payment_id"),
            fraud_score=payment.get("fraud_score"),
            created_at=time.time(),
            **quote_.model_dump(),
        )
        store.put(order.id, order)
        created.labels(order.status).inc()
        core.log.info(
            "order created",
            extra={"order_id": order.id, "status": order.status, "total": order.total},
        )
        return order

    @router.get("")
    async def list_orders(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        items = store.page(limit, offset, newest_first=True)
        return {"items": items, "total": len(store), "limit": limit, "offset": offset}

    @router.get("/{order_id}")
    async def get_order(order_id: str) -> Order:
        order = store.get(order_id)
        if order is None:
            raise HTTPException(404, f"no order {order_id!r}")
        return order

    return router


def create_app(
    settings: OrdersSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    exit_fn: Callable[[int], None] = os._exit,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    core = ServiceCore.create(settings, tracer_provider=tracer_provider, exit_fn=exit_fn)
    client = core.http_client(settings.downstream_timeout_s, transport=transport)
    # Readiness probes go through an uninstrumented client: no trace per probe.
    probe = httpx.AsyncClient(timeout=settings.ready_timeout_s, transport=transport)
    core.on_shutdown.append(probe.aclose)
    store: BoundedStore[Order] = BoundedStore(settings.max_items)

    async def readiness() -> dict[str, Any]:
        checks: dict[str, Any] = {}
        for name, base in (("users", settings.users_url), ("payments", settings.payments_url)):
            try:
                resp = await probe.get(base.rstrip("/") + "/health")
                checks[name] = {"ok": resp.status_code == 200, "status_code": resp.status_code}
            except httpx.HTTPError as exc:
                checks[name] = {"ok": False, "error": type(exc).__name__}
        return checks

    return core.build_app(
        title="orders",
        description="Orders of the Relia demo: validates via users, authorizes via payments.",
        routers=[orders_router(core, settings, client, store)],
        readiness=readiness,
    )
