"""Schemathesis against every component's own OpenAPI document, in process (no docker).

Each app comes from its factory with test adapters (fake Docker, fake Prometheus, mock
backends), so the schema is the one the component serves. Every check Schemathesis runs by
default must pass: no 5xx, every status code, content type, header and body as documented.
Examples are bounded (MAX_EXAMPLES per operation) to keep CI lean.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from anomaly_service.app import create_app as create_anomaly_service
from anomaly_service.config import Settings as AnomalySettings
from dashboard.app import create_app as create_dashboard
from dashboard.config import Settings as DashboardSettings
from services.orders.app import create_app as create_orders
from services.orders.config import OrdersSettings
from services.payments.app import create_app as create_payments
from services.payments.config import PaymentsSettings
from services.users.app import create_app as create_users
from services.users.config import UsersSettings
from tests.unit.anomaly_service.anomaly_fakes import FakeClock as AnomalyClock
from tests.unit.anomaly_service.anomaly_fakes import FakePrometheus, ListNotifier, spec
from tests.unit.dashboard.dashboard_fakes import (
    ANOMALY,
    POLICY,
    TOKEN,
    FakeBackends,
    action,
    anomaly,
)
from tests.unit.policy_engine.pe_fakes import fake_app

MAX_EXAMPLES = 25
BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,  # the same examples on every run: CI is reproducible
)
POLICIES = b"""
policies:
  - name: orders_latency
    condition: "latency > 0.5"
    action: restart_container
    service: orders
"""


def policy_engine_app() -> FastAPI:
    policies_file = Path(tempfile.mkdtemp(prefix="relia-openapi-")) / "policies.yml"
    policies_file.write_bytes(POLICIES)
    return fake_app(policies_file=policies_file)


def anomaly_service_app() -> FastAPI:
    """Ready: one cycle ran on a fake Prometheus (latency and cpu of two services)."""
    prom = FakePrometheus()
    prom.values = {"q_latency": {"orders": 0.02, "users": 0.03}, "q_cpu": {"orders": 0.1}}
    prom.replicas = {"orders": (1, 1), "users": (1, 1)}
    clock = AnomalyClock()
    app = create_anomaly_service(
        AnomalySettings(check_interval=5.0, policy_engine_url=""),
        prometheus_client_adapter=prom,
        notifier=ListNotifier(),
        clock=clock,
        catalog=[spec(), spec(name="cpu", query="q_cpu", unit="cores", floor=0.8)],
        run_loop=False,
    )
    clock.tick(5.0)
    asyncio.run(app.state.engine.run_cycle())
    return app


def dashboard_app() -> FastAPI:
    """Ready: one poll ran against fake backends (one anomaly, one action)."""
    fake = FakeBackends(anomalies=[anomaly("a-1")], actions=[action("act-1", "a-1")])
    app = create_dashboard(
        DashboardSettings(
            anomaly_service_url=ANOMALY,
            policy_engine_url=POLICY,
            policy_engine_token=SecretStr(TOKEN),
            allowed_hosts="testserver",
        ),
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)),
        start_poller=False,
    )
    app.state.poller.clock = lambda: fake.now
    asyncio.run(app.state.poller.poll_once())
    return app


class _NoCpu:
    def set_intensity(self, intensity: float) -> None:
        return None


class _NoMemory:
    held_mb = 0.0

    def grow_to(self, target_mb: float) -> None:
        return None

    def release(self) -> None:
        return None


def _tame(app: FastAPI) -> FastAPI:
    """Faults are recorded and listed as in production, but never burn CPU, hold memory, hang,
    fail requests or exit the test process: this test is about the API contract."""
    runtime = app.state.core.runtime
    runtime.cpu, runtime.memory = _NoCpu(), _NoMemory()

    async def passthrough(inner: Any, scope: Any, receive: Any, send: Any) -> None:
        await inner(scope, receive, send)

    runtime.apply = passthrough
    runtime.exit_fn = lambda code: None
    return app


def users_app() -> FastAPI:
    settings = UsersSettings(chaos_enabled=False, chaos_tick_s=0.05)
    return _tame(create_users(settings, tracer_provider=TracerProvider(), exit_fn=lambda c: None))


def payments_app() -> FastAPI:
    settings = PaymentsSettings(chaos_enabled=False, chaos_tick_s=0.05)
    app = create_payments(settings, tracer_provider=TracerProvider(), exit_fn=lambda c: None)
    return _tame(app)


class Served:
    """The app as one long-lived process: Schemathesis' client opens and closes a lifespan
    per call, which would close the engine's store after the first one. Lifespan events are
    answered here; the factories' `run_loop=False` / `start_poller=False` keep loops off."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]  # startup | shutdown
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        await self.app(scope, receive, send)


# Schemathesis' defaults, plus: 413 (body too large) is a rejection of schema-violating data
# like 400 or 422 (a huge negative example hits the size cap before validation).
CONFIG = SchemathesisConfig.from_str(
    """
seed = 20261130  # with derandomize: the same examples whatever else the session collects

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "5xx"]
"""
)


def load(path: str, app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi(path, Served(app), config=CONFIG)


class ByHost(httpx.AsyncBaseTransport):
    """orders' downstream calls, served in process by the users and payments apps."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transports[request.url.host].handle_async_request(request)


def orders_app() -> FastAPI:
    settings = OrdersSettings(chaos_enabled=False, chaos_tick_s=0.05)
    downstream = ByHost({"users": users_app(), "payments": payments_app()})
    app = create_orders(
        settings, tracer_provider=TracerProvider(), exit_fn=lambda c: None, transport=downstream
    )
    return _tame(app)


policy_engine = load("/openapi.json", policy_engine_app())
anomaly_service = load("/openapi.json", anomaly_service_app())
# /api/events is an endless server-sent event stream: a request/response fuzzer would wait
# forever on it. Its contract is covered by tests/unit/dashboard (stream shape, heartbeats).
dashboard = load("/api/openapi.json", dashboard_app()).exclude(path="/api/events")
users = load("/openapi.json", users_app())
payments = load("/openapi.json", payments_app())
orders = load("/openapi.json", orders_app())


@policy_engine.parametrize()
@BOUNDED
def test_policy_engine_openapi(case: schemathesis.Case) -> None:
    excluded = []
    if case.operation.label == "POST /actions":
        # min_replicas <= max_replicas is a rule JSON Schema cannot state: the engine answers
        # such a schema-valid body with a 422 saying why, which this check would call a failure
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)


@anomaly_service.parametrize()
@BOUNDED
def test_anomaly_service_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate()


@dashboard.parametrize()
@BOUNDED
def test_dashboard_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate()


@users.parametrize()
@BOUNDED
def test_users_service_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate()


@payments.parametrize()
@BOUNDED
def test_payments_service_openapi(case: schemathesis.Case) -> None:
    case.call_and_validate()


@orders.parametrize()
@BOUNDED
def test_orders_service_openapi(case: schemathesis.Case) -> None:
    excluded = []
    if case.operation.label == "POST /orders":
        # a schema-valid order for a customer that does not exist is a 422 saying so: whether
        # the customer exists is state, not something the schema can say
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)
