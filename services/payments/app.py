"""payments: create_app(settings) wires the ledger into the shared service core."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from fastapi import APIRouter, FastAPI, HTTPException
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import Counter

from services.common.app import ServiceCore
from services.payments.config import PaymentsSettings
from services.payments.domain import AuthorizeRequest, Ledger, Payment


def payments_router(core: ServiceCore, ledger: Ledger) -> APIRouter:
    router = APIRouter(prefix="/payments", tags=["payments"])
    authorized = Counter(
        "payments_authorized_total",
        "Authorizations by result.",
        ["result"],
        registry=core.metrics.registry,
    )

    @router.post("/authorize")
    def authorize(req: AuthorizeRequest) -> Payment:
        # A sync handler: FastAPI runs it in the threadpool, so the CPU-bound score does not
        # stall the event loop (other requests, /health) while it computes.
        payment = ledger.authorize(req, time.time())
        authorized.labels(payment.status).inc()
        core.log.info(
            "payment authorized",
            extra={
                "payment_id": payment.payment_id,
                "order_id": req.order_id,
                "result": payment.status,
                "fraud_score": payment.fraud_score,
            },
        )
        return payment

    @router.get("/{payment_id}")
    async def get_payment(payment_id: str) -> Payment:
        payment = ledger.store.get(payment_id)
        if payment is None:
            raise HTTPException(404, f"no payment {payment_id!r}")
        return payment

    return router


def create_app(
    settings: PaymentsSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    exit_fn: Callable[[int], None] = os._exit,
) -> FastAPI:
    core = ServiceCore.create(settings, tracer_provider=tracer_provider, exit_fn=exit_fn)
    ledger = Ledger(settings.max_items, settings.fraud_rounds, settings.decline_threshold)
    return core.build_app(
        title="payments",
        description="Payment authorization of the Relia demo (fraud score with a real CPU cost).",
        routers=[payments_router(core, ledger)],
    )
