"""relia_web.guard on every component: cross-site writes, deep JSON, foreign Host, framing.

Every mutating endpoint of the policy engine and the services' /chaos refuse a cross-site
`text/plain` POST (415) and a foreign Origin (403), and nothing changes; JSON nested 100,000
deep is a 400, never a 500. The dashboard answers only under its own host names and can't be
framed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider

from dashboard.app import create_app as create_dashboard
from dashboard.config import Settings as DashboardSettings
from relia_web.guard import json_depth
from services.users.app import create_app as create_users
from services.users.config import UsersSettings
from tests.unit.policy_engine.pe_fakes import (
    fake_app,
)

POLICIES = b"""
policies:
  - name: orders_latency
    condition: "latency > 0.5"
    action: restart_container
    service: orders
"""
DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
ENGINE_POSTS = {
    "/toggle": b'{"enabled": false}',
    "/alerts": json.dumps({"version": "4", "status": "firing", "alerts": []}).encode(),
    "/actions": json.dumps({"action": "restart_container", "service": "orders"}).encode(),
    "/policies/reload": b"",
}
CROSS_SITE = {
    "text/plain": ({"Content-Type": "text/plain"}, 415),
    "form": ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    "multipart": ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
    "foreign origin": (
        {"Content-Type": "application/json", "Origin": "https://evil.example"},
        403,
    ),
    "null origin": ({"Content-Type": "application/json", "Origin": "null"}, 403),
    "foreign origin, text/plain": (
        {"Content-Type": "text/plain", "Origin": "https://evil.example"},
        403,
    ),
    "sec-fetch-site": (
        {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
        403,
    ),
    "body without content-type": ({}, 415),
}


@pytest.fixture
def engine_client() -> Iterator[TestClient]:
    app = fake_app()  # no token: the default, and the case the probes abused
    app.state.engine.apply(POLICIES)
    with TestClient(app) as client:
        yield client


def _engine_state(client: TestClient) -> tuple[Any, Any]:
    status = client.get("/status").json()
    return status["enabled"], client.get("/actions").json()["total"]


@pytest.mark.parametrize("path", sorted(ENGINE_POSTS))
@pytest.mark.parametrize("case", sorted(CROSS_SITE))
def test_engine_refuses_cross_site_posts(engine_client: TestClient, path: str, case: str) -> None:
    headers, status = CROSS_SITE[case]
    before = _engine_state(engine_client)
    body = ENGINE_POSTS[path] or b"{}"
    answer = engine_client.post(path, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert isinstance(answer.json()["detail"], str)
    assert _engine_state(engine_client) == before


@pytest.mark.parametrize("path", ["/toggle", "/alerts", "/actions"])
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_engine_deep_json_is_400(engine_client: TestClient, path: str, body: bytes) -> None:
    before = _engine_state(engine_client)
    answer = engine_client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "nested deeper" in answer.json()["detail"]
    assert _engine_state(engine_client) == before


def test_engine_same_origin_and_curl_still_work(engine_client: TestClient) -> None:
    json_type = {"Content-Type": "application/json"}
    assert engine_client.post("/toggle").json() == {"enabled": False}  # curl -X POST: flips
    assert engine_client.post("/toggle", headers=json_type).json() == {"enabled": True}
    same_origin = {**json_type, "Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    answer = engine_client.post("/toggle", content=b'{"enabled": false}', headers=same_origin)
    assert answer.json() == {"enabled": False}
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert engine_client.post("/toggle", content=b'{"enabled": true}', headers=charset).json() == {
        "enabled": True
    }


def _run(app: FastAPI, base_url: str, body: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
                return await body(client)

    return asyncio.run(main())


def _users() -> tuple[FastAPI, list[int]]:
    exits: list[int] = []
    settings = UsersSettings(chaos_enabled=False, chaos_tick_s=0.05)
    app = create_users(settings, tracer_provider=TracerProvider(), exit_fn=exits.append)
    return app, exits


@pytest.mark.parametrize("case", sorted(CROSS_SITE))
def test_service_chaos_refuses_cross_site(case: str) -> None:
    headers, status = CROSS_SITE[case]
    app, exits = _users()

    async def body(client: httpx.AsyncClient) -> None:
        crash = json.dumps({"kind": "crash"}).encode()
        answer = await client.post("/chaos", content=crash, headers=headers)
        assert answer.status_code == status, answer.text
        if "Origin" in headers or "Sec-Fetch-Site" in headers:
            clear = await client.delete("/chaos", headers=headers)
            assert clear.status_code == 403
        await asyncio.sleep(0.3)
        assert (await client.get("/chaos")).json()["faults"] == []

    _run(app, "http://users", body)
    assert exits == []


def test_service_chaos_deep_json_is_400_and_demo_endpoints_are_untouched() -> None:
    app, _ = _users()

    async def body(client: httpx.AsyncClient) -> None:
        json_type = {"Content-Type": "application/json"}
        for deep in (DEEP, DEEP_OBJECT):
            answer = await client.post("/chaos", content=deep, headers=json_type)
            assert answer.status_code == 400
        ok = await client.post("/chaos", json={"kind": "latency", "ms": 1})
        assert ok.status_code == 201
        # the guard covers /chaos only: the demo API keeps its own contract
        assert (await client.get("/health")).status_code == 200

    _run(app, "http://users", body)


def _dashboard(**overrides: Any) -> FastAPI:
    settings = DashboardSettings(
        anomaly_service_url="http://anomaly.test",
        policy_engine_url="http://policy.test",
        **overrides,
    )
    backend = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    return create_dashboard(settings, http_client=backend, start_poller=False)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:3000", "localhost:3001", ""])
def test_dashboard_refuses_a_foreign_host(host: str) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        for path in ("/", "/api/snapshot", "/health"):
            answer = await client.get(path, headers={"Host": host})
            assert answer.status_code == 400, (path, answer.status_code)
            assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"
        rebinding = {"Host": host, "Origin": f"http://{host}", "Content-Type": "application/json"}
        toggle = await client.post("/api/toggle", json={"enabled": False}, headers=rebinding)
        assert toggle.status_code == 400

    _run(_dashboard(), "http://localhost:3000", body)


def test_dashboard_serves_its_own_hosts_unframeable() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        for host in ("localhost:3000", "127.0.0.1:3000", "localhost", "[::1]:3000"):
            answer = await client.get("/api/snapshot", headers={"Host": host})
            assert answer.status_code == 200, host
            assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"
            assert answer.headers["x-frame-options"] == "DENY"
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["x-frame-options"] == "DENY"
        cross = {"Origin": "https://evil.example"}
        assert (
            await client.post("/api/toggle", json={"enabled": False}, headers=cross)
        ).status_code == 403
        plain = {"Content-Type": "text/plain"}
        toggle = await client.post("/api/toggle", content=b'{"enabled": false}', headers=plain)
        assert toggle.status_code == 415

    _run(_dashboard(), "http://localhost:3000", body)


def test_dashboard_allowed_hosts_setting() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert (await client.get("/health")).status_code == 200
        local = await client.get("/health", headers={"Host": "localhost:3000"})
        assert local.status_code == 400

    _run(_dashboard(allowed_hosts="relia.internal:8443"), "http://relia.internal:8443", body)


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, [2]]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"") == 0
    assert json_depth(DEEP) == 100_000


def test_anomaly_service_detect_is_guarded_and_reads_bodies_over_1_mb() -> None:
    from anomaly_service.app import create_app as create_anomaly_service
    from anomaly_service.config import Settings as AnomalySettings
    from tests.unit.anomaly_service.anomaly_fakes import FakePrometheus, ListNotifier, spec

    app = create_anomaly_service(
        AnomalySettings(check_interval=5.0, policy_engine_url=""),
        prometheus_client_adapter=FakePrometheus(),
        notifier=ListNotifier(),
        catalog=[spec()],
        run_loop=False,
    )
    with TestClient(app) as client:
        json_type = {"Content-Type": "application/json"}
        assert client.post("/detect", content=DEEP, headers=json_type).status_code == 400
        plain = {"Content-Type": "text/plain"}
        body = b'{"values": [1, 2, 3]}'
        assert client.post("/detect", content=body, headers=plain).status_code == 415
        foreign = {**json_type, "Origin": "https://evil.example"}
        assert client.post("/detect", content=body, headers=foreign).status_code == 403
        # 100,001 points (~2 MB) reach the app and its own limit (100,000): a 422, not a 413
        points = [0.123456789012345 + i for i in range(100_001)]
        big = json.dumps({"values": points}).encode()
        assert len(big) > 1_000_000
        answer = client.post("/detect", content=big, headers=json_type)
        assert answer.status_code == 422, answer.text[:200]
