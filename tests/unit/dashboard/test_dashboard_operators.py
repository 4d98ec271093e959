"""GET /api/operators: the policy engine's silences and maintenance windows for the panel."""

from __future__ import annotations

from typing import Any

import httpx
from dashboard_fakes import FakeBackends
from test_dashboard_app import make, run


def test_policy_engine_down_is_said_per_half_not_a_500() -> None:
    fake = FakeBackends(policy_down=True)

    async def body(client: httpx.AsyncClient) -> dict[str, Any]:
        response = await client.get("/api/operators")
        assert response.status_code == 200
        data: dict[str, Any] = response.json()
        return data

    data = run(make(fake), body)
    assert data["silences"] is None
    assert data["maintenance"] is None
    assert "policy engine" in data["silences_error"]
    assert "refused" in data["silences_error"]
    assert "policy engine" in data["maintenance_error"]


def test_answers_are_passed_through() -> None:
    fake = FakeBackends()
    original = fake.handler

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/silences":
            return httpx.Response(200, json={"configured": True, "silences": [{"id": "s1"}]})
        if request.url.path == "/maintenance":
            return httpx.Response(200, json={"now": 1.0, "windows": [{"name": "w"}]})
        return original(request)

    fake.handler = handler  # type: ignore[method-assign]

    async def body(client: httpx.AsyncClient) -> dict[str, Any]:
        data: dict[str, Any] = (await client.get("/api/operators")).json()
        return data

    data = run(make(fake), body)
    assert data["silences"]["silences"] == [{"id": "s1"}]
    assert data["silences_error"] is None
    assert data["maintenance"]["windows"] == [{"name": "w"}]
