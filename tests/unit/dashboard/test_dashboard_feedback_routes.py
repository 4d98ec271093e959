"""The dashboard's feedback and breaker-reset routes against test backends: the token goes
server-side only, backend refusals are passed on, bad and cross-site input never leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from dashboard_fakes import ANOMALY, POLICY, TOKEN
from pydantic import SecretStr

from dashboard.app import create_app
from dashboard.config import Settings

FEEDBACK = {"label": "noise", "reason": "deploy"}


class Backends:
    """Answers the feedback and breaker routes with `status`, recording every request."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        path = request.url.path
        if self.status != 200:
            return httpx.Response(self.status, json={"detail": "refused: why"})
        if path == "/status":
            return httpx.Response(200, json={"breakers": {"orders": {"state": "open"}}})
        if path.endswith("/feedback"):
            return httpx.Response(201, json={"feedback": {"id": "f-1"}, "sensitivity": {}})
        if path == "/feedback/precision":
            return httpx.Response(200, json={"signals": [], "overall": {}})
        if path == "/sensitivity":
            return httpx.Response(200, json={"items": [], "limits": {}})
        return httpx.Response(200, json={"ok": True, "path": path})


def call(
    fake: Backends, body: Callable[[httpx.AsyncClient], Awaitable[Any]], token: str | None = TOKEN
) -> Any:
    settings = Settings(
        anomaly_service_url=ANOMALY,
        policy_engine_url=POLICY,
        policy_engine_token=SecretStr(token) if token else None,
        allowed_hosts="dash.test",
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    app = create_app(settings, http_client=client, start_poller=False)

    async def main() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dash.test") as c:
            return await body(c)

    return asyncio.run(main())


def test_feedback_and_reset_go_out_with_the_token_and_never_return_it() -> None:
    fake = Backends()

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await c.post("/api/anomalies/a-1/feedback", json={**FEEDBACK, "mute_for_s": 900}),
            await c.delete("/api/sensitivity/abc123"),
            await c.post("/api/breakers/orders/reset", json={"reason": "fixed"}),
            await c.get("/api/breakers"),
        ]

    fb, sens, reset, breakers = call(fake, body)
    assert fb.status_code == 201
    assert sens.status_code == 200
    assert reset.status_code == 200
    assert breakers.json()["breakers"] == {"orders": {"state": "open"}}
    sent = {(r.method, r.url.host, r.url.path): r for r in fake.calls}
    post = sent[("POST", "anomaly.test", "/anomalies/a-1/feedback")]
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.read() == b'{"label":"noise","reason":"deploy","mute_for_s":900}'
    assert ("DELETE", "anomaly.test", "/sensitivity/abc123") in sent
    breaker = sent[("POST", "policy.test", "/breakers/orders/reset")]
    assert breaker.headers["authorization"] == f"Bearer {TOKEN}"
    assert breaker.read() == b'{"reason":"fixed","actor":"dashboard"}'
    assert all(TOKEN not in r.text for r in (fb, sens, reset, breakers))


def test_bad_and_cross_site_input_never_reaches_a_backend() -> None:
    fake = Backends()
    evil = {"origin": "http://evil.example"}

    async def body(c: httpx.AsyncClient) -> list[int]:
        answers = [
            await c.post("/api/anomalies/a-1/feedback", json=FEEDBACK, headers=evil),
            await c.delete("/api/sensitivity/abc", headers=evil),
            await c.post("/api/breakers/orders/reset", json={"reason": "x"}, headers=evil),
            await c.post("/api/anomalies/a-1/feedback", json={"label": "meh", "reason": "x"}),
            await c.post("/api/anomalies/a-1/feedback", json={"label": "noise", "reason": ""}),
            await c.post(
                "/api/anomalies/a-1/feedback", json={"label": "noise", "reason": "x" * 501}
            ),
            await c.post("/api/anomalies/a%20b/feedback", json=FEEDBACK),
            await c.post("/api/breakers/orders/reset", json={}),
        ]
        return [a.status_code for a in answers]

    assert call(fake, body) == [403, 403, 403, 422, 422, 422, 422, 422]
    assert fake.calls == []


def test_backend_refusals_are_passed_on_and_credentials_become_502() -> None:
    for status, expected in ((404, 404), (409, 409), (422, 422), (401, 502), (500, 502)):
        fake = Backends(status)
        answer = call(fake, lambda c: c.post("/api/breakers/orders/reset", json={"reason": "x"}))
        assert answer.status_code == expected, (status, answer.text)
        if status == 401:
            assert "POLICY_ENGINE_TOKEN" in answer.json()["detail"]
        elif status < 500:
            assert "refused: why" in answer.json()["detail"]
