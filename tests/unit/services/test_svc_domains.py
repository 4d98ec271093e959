"""The three domains in process: users, payments, orders (downstreams over ASGI or mocked)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from services.orders.app import create_app as create_orders
from services.orders.config import OrdersSettings
from services.orders.domain import OrderItem, price
from services.payments.app import create_app as create_payments
from services.payments.config import PaymentsSettings
from services.payments.domain import AuthorizeRequest, FraudModel

QUIET: dict[str, Any] = {"chaos_enabled": False, "chaos_tick_s": 0.05}
ORDER = {"customer_id": "u-10", "items": [{"sku": "book", "qty": 2, "unit_price": 12.5}]}


class HostRouter(httpx.AsyncBaseTransport):
    """Sends each request to the transport registered for its host."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.routes[request.url.host].handle_async_request(request)


def test_users_domain(users_app, serving) -> None:
    async def main() -> None:
        async with serving(users_app()) as client:
            page = (await client.get("/users", params={"limit": 10, "offset": 45})).json()
            assert page["total"] == 50
            assert page["limit"] == 10
            assert page["offset"] == 45
            assert [u["id"] for u in page["items"]] == [f"u-{i}" for i in range(46, 51)]
            assert (await client.get("/users/u-50")).json()["tier"] == "gold"
            missing = await client.get("/users/u-51")
            assert missing.status_code == 404
            assert "u-51" in missing.json()["detail"]
            made = await client.post("/users", json={"name": " Lin ", "email": "lin@example.org"})
            assert made.status_code == 201
            assert made.json()["id"] == "u-51"
            assert made.json()["name"] == "Lin"
            for bad in (
                {"name": "", "email": "a@b.c"},
                {"name": "x", "email": "nope"},
                {"name": "x", "email": "a@b.c", "tier": "platinum"},
                {"name": "x", "email": "a@b.c", "admin": True},
            ):
                resp = await client.post("/users", json=bad)
                assert resp.status_code == 422, bad
            assert (await client.get("/users", params={"limit": 0})).status_code == 422
            assert (await client.get("/users")).json()["total"] == 51

    asyncio.run(main())


def test_users_store_is_bounded(users_app, serving) -> None:
    async def main() -> None:
        async with serving(users_app(max_items=60)) as client:
            for i in range(30):
                await client.post("/users", json={"name": f"n{i}", "email": f"n{i}@x.io"})
            page = (await client.get("/users", params={"limit": 500})).json()
            assert page["total"] == 60
            ids = {u["id"] for u in page["items"]}
            assert {f"u-{i}" for i in range(1, 51)} <= ids  # seeds are never evicted
            assert "u-80" in ids
            assert "u-51" not in ids

    asyncio.run(main())


def test_fraud_score_costs_cpu_and_tracks_risk() -> None:
    model = FraudModel(rounds=8)
    small = AuthorizeRequest(order_id="o-1", customer_id="u-1", amount=20)
    big = AuthorizeRequest(order_id="o-1", customer_id="u-1", amount=500_000)
    started = time.process_time()
    for _ in range(20):
        low = model.score(small, recent=0)
    per_call = (time.process_time() - started) / 20
    assert per_call > 0.0005  # real computation, not a constant
    assert low == model.score(small, recent=0)  # deterministic
    assert low < 0.3 < model.score(big, recent=0)
    assert model.score(small, recent=30) > low + 0.3  # velocity raises the risk


def test_payments_domain(serving) -> None:
    app = create_payments(PaymentsSettings(**QUIET), tracer_provider=TracerProvider())

    async def main() -> None:
        async with serving(app) as client:
            ok = await client.post(
                "/payments/authorize",
                json={"order_id": "o-1", "customer_id": "u-1", "amount": 42.0},
            )
            assert ok.status_code == 200
            body = ok.json()
            assert body["status"] == "approved"
            assert 0 <= body["fraud_score"] < 0.8
            got = await client.get(f"/payments/{body['payment_id']}")
            assert got.json() == body
            assert (await client.get("/payments/p-none")).status_code == 404
            huge = await client.post(
                "/payments/authorize",
                json={"order_id": "o-2", "customer_id": "u-2", "amount": 999_999},
            )
            assert huge.json()["status"] == "declined"
            for bad in (
                {"order_id": "o", "customer_id": "u", "amount": 0},
                {"order_id": "o", "customer_id": "u", "amount": -3},
                {"order_id": "", "customer_id": "u", "amount": 3},
                {"order_id": "o", "customer_id": "u"},
            ):
                assert (await client.post("/payments/authorize", json=bad)).status_code == 422
            nan = await client.post(
                "/payments/authorize",
                headers={"content-type": "application/json"},
                content=b'{"order_id":"o","customer_id":"u","amount":NaN}',
            )
            assert nan.status_code == 422
            text = (await client.get("/metrics")).text
            assert 'payments_authorized_total{result="approved"} 1.0' in text
            assert 'payments_authorized_total{result="declined"} 1.0' in text

    asyncio.run(main())


def test_pricing_is_exact_money() -> None:
    items = [OrderItem(sku="a", qty=3, unit_price=0.1), OrderItem(sku="b", qty=1, unit_price=19.99)]
    quote = price(items, gold=False, rounds=24)
    assert quote.subtotal == 20.29
    assert 0 <= quote.discount <= 0.25 * quote.subtotal
    assert quote.total == round(quote.subtotal - quote.discount + quote.tax, 2)
    assert quote.tax == round((quote.subtotal - quote.discount) * 0.2, 2)


def _orders(transport: httpx.AsyncBaseTransport, **overrides: Any):
    settings = OrdersSettings(
        users_url="http://users",
        payments_url="http://payments",
        downstream_timeout_s=1.0,
        **{**QUIET, **overrides},
    )
    return create_orders(settings, tracer_provider=TracerProvider(), transport=transport)


def test_order_flow_across_three_apps(users_app, serving) -> None:
    users = users_app()
    payments = create_payments(PaymentsSettings(**QUIET), tracer_provider=TracerProvider())
    router = HostRouter(
        {"users": httpx.ASGITransport(app=users), "payments": httpx.ASGITransport(app=payments)}
    )
    orders = _orders(router)

    async def main() -> None:
        async with serving(users), serving(payments), serving(orders) as client:
            assert (await client.get("/ready")).json()["ready"] is True
            made = await client.post("/orders", json=ORDER)
            assert made.status_code == 201, made.text
            order = made.json()
            assert order["status"] == "confirmed"
            assert order["payment_id"].startswith("p-")
            assert order["subtotal"] == 25.0
            assert (await client.get(f"/orders/{order['id']}")).json() == order
            listed = (await client.get("/orders")).json()
            assert listed["total"] == 1
            assert listed["items"][0]["id"] == order["id"]
            unknown = await client.post("/orders", json={**ORDER, "customer_id": "u-999"})
            assert unknown.status_code == 422
            assert "unknown customer" in unknown.json()["detail"]
            for bad in (
                {"customer_id": "u-1", "items": []},
                {"customer_id": "u-1", "items": [{"sku": "a", "qty": 0, "unit_price": 1}]},
                {"customer_id": "u-1", "items": [{"sku": "a", "qty": 1, "unit_price": -1}]},
                {"customer_id": "u-1", "items": "many"},
            ):
                assert (await client.post("/orders", json=bad)).status_code == 422
            # A fault on users shows up at orders as a clear downstream error.
            await users_client_post(users, {"kind": "errors", "rate": 1})
            failed = await client.post("/orders", json=ORDER)
            assert failed.status_code == 502
            assert "users" in failed.json()["detail"]
            text = (await client.get("/metrics")).text
            assert 'orders_created_total{status="confirmed"} 1.0' in text
            assert 'orders_failed_total{reason="users_failed"} 1.0' in text

    asyncio.run(main())


async def users_client_post(app: Any, body: dict[str, Any]) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://users") as client:
        assert (await client.post("/chaos", json=body)).status_code == 201


def _client_counts(text: str) -> dict[str, float]:
    """`http_client_request_duration_seconds_count` samples by their label string."""
    prefix = "http_client_request_duration_seconds_count{"
    return {
        line[len(prefix) : line.index("}")]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


@pytest.mark.parametrize(
    ("handler", "status", "fragment", "client_labels"),
    [
        (
            lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
            502,
            "users unreachable",
            'error_type="connection_error",method="GET",peer_service="users",status_code="none"',
        ),
        (
            lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
            504,
            "users timed out",
            'error_type="timeout",method="GET",peer_service="users",status_code="none"',
        ),
        (
            lambda r: httpx.Response(503, json={}),
            502,
            "users answered 503",
            'error_type="",method="GET",peer_service="users",status_code="503"',
        ),
    ],
)
def test_orders_downstream_failures(serving, handler, status, fragment, client_labels) -> None:
    orders = _orders(httpx.MockTransport(handler))

    async def main() -> None:
        async with serving(orders) as client:
            resp = await client.post("/orders", json=ORDER)
            assert resp.status_code == status
            assert fragment in resp.json()["detail"]
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["ready"] is False
            assert (await client.get("/health")).status_code == 200
            # One outbound sample, labelled with why it failed; readiness probes are not counted.
            counts = _client_counts((await client.get("/metrics")).text)
            assert counts == {client_labels: 1.0}

    asyncio.run(main())


def test_payments_failure_is_a_clear_502(serving) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "users":
            return httpx.Response(200, json={"id": "u-10", "tier": "standard"})
        return httpx.Response(500, json={"detail": "boom"})

    async def main() -> None:
        async with serving(_orders(httpx.MockTransport(handler))) as client:
            resp = await client.post("/orders", json=ORDER)
            assert resp.status_code == 502
            assert "payments answered 500" in resp.json()["detail"]
            # The edge to the culprit carries the 500; the healthy edge to users does not.
            assert _client_counts((await client.get("/metrics")).text) == {
                'error_type="",method="GET",peer_service="users",status_code="200"': 1.0,
                'error_type="",method="POST",peer_service="payments",status_code="500"': 1.0,
            }
        uninstrumented = _orders(httpx.MockTransport(handler), instrumentation_enabled=False)
        async with serving(uninstrumented) as client:
            assert (await client.post("/orders", json=ORDER)).status_code == 502
            assert _client_counts((await client.get("/metrics")).text) == {}

    asyncio.run(main())
