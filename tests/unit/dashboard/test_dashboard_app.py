"""The server against test backends (httpx.MockTransport): aggregation, states, toggle, SSE."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import httpx
from dashboard_fakes import ANOMALY, POLICY, TOKEN, FakeBackends, action, anomaly
from fastapi import FastAPI
from pydantic import SecretStr

from dashboard.app import create_app
from dashboard.config import Settings
from dashboard.routes.api import ANOMALY_ID
from dashboard.routes.events import stream


def make(fake: FakeBackends, token: str | None = TOKEN, **overrides: Any) -> FastAPI:
    secret = SecretStr(token) if token is not None else None
    settings = Settings(
        anomaly_service_url=ANOMALY,
        policy_engine_url=POLICY,
        policy_engine_token=secret,
        grafana_url="http://grafana.example:3001",
        jaeger_url="http://jaeger.example:16686",
        prometheus_url="http://prom.example:9090",
        allowed_hosts="dash.test",
        **overrides,
    )
    backend_client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    app = create_app(settings, http_client=backend_client, start_poller=False)
    app.state.poller.clock = lambda: fake.now
    return app


def run(app: FastAPI, body: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dash.test") as client:
            return await body(client)

    return asyncio.run(main())


def test_poll_aggregates_both_backends() -> None:
    fake = FakeBackends(
        anomalies=[
            anomaly("a-1"),
            anomaly("a-0", status="resolved", opened_at=900.0, resolved_at=950.0),
        ],
        actions=[action("act-1", "a-1")],
    )
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> dict[str, Any]:
        await app.state.poller.poll_once()
        return (await client.get("/api/snapshot")).json()

    snap = run(app, body)
    assert snap["backends"]["anomaly"]["status"] == "ok"
    assert snap["backends"]["policy"]["status"] == "ok"
    orders = snap["services"][0]
    assert orders["service"] == "orders"
    assert orders["replicas_total"] == 2
    assert orders["signals"]["latency"]["value"] == 0.02
    assert orders["signals"]["latency"]["history"] == [[1000.0, 0.02]]
    assert snap["remediation"]["enabled"] is True
    assert snap["remediation"]["dry_run"] is True
    assert [a["id"] for a in snap["anomalies"]["items"]] == ["a-1", "a-0"]
    assert snap["anomalies"]["active_total"] == 1
    # The catalog's own PromQL (from /models) is what the Prometheus link carries.
    assert "histogram_quantile" in snap["anomalies"]["items"][0]["links"]["prometheus"]
    # The page's signal names, units and order are the anomaly service's catalog, not a copy.
    assert snap["catalog"] == [{"name": "latency", "unit": "seconds", "description": ""}]
    assert snap["catalog_source"] == "anomaly-service"
    assert snap["actions"]["items"][0]["id"] == "act-1"
    assert snap["policies"]["items"][0]["cooldown_remaining_s"] == 120.0
    assert snap["links"]["grafana"].startswith("http://grafana.example:3001")


def test_backend_down_then_back() -> None:
    fake = FakeBackends(anomalies=[anomaly("a-1")])
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        out = []
        await app.state.poller.poll_once()
        fake.anomaly_down, fake.now = True, 1010.0
        await app.state.poller.poll_once()
        out.append((await client.get("/api/snapshot")).json())
        fake.anomaly_down, fake.now = False, 1012.0
        await app.state.poller.poll_once()
        out.append((await client.get("/api/snapshot")).json())
        return out

    down, back = run(app, body)
    state = down["backends"]["anomaly"]
    assert state["status"] == "unreachable"
    assert state["has_data"] is True
    assert "cannot connect" in state["error"]
    assert down["backends"]["policy"]["status"] == "ok"  # one outage does not blank the other
    assert down["anomalies"]["items"][0]["id"] == "a-1"  # last known, flagged by the state
    assert back["backends"]["anomaly"]["status"] == "ok"


def test_anomaly_service_answering_with_old_cycle_is_stale() -> None:
    fake = FakeBackends(generated_at=900.0)  # its last detection cycle is 100 s old
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> dict[str, Any]:
        await app.state.poller.poll_once()
        return (await client.get("/api/snapshot")).json()

    snap = run(app, body)
    assert snap["backends"]["anomaly"]["status"] == "stale"
    assert snap["backends"]["anomaly"]["age_s"] == 100.0


def test_toggle_calls_policy_engine_with_token_and_never_returns_it() -> None:
    fake = FakeBackends()
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/api/toggle", json={"enabled": False})

    response = run(app, body)
    assert response.status_code == 200
    assert response.json() == {"enabled": False}
    assert fake.enabled is False
    sent = [r for r in fake.calls if r.url.path == "/toggle"]
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in response.text
    assert app.state.poller._kick.is_set()  # the next poll comes at once


def test_toggle_with_wrong_token_reports_credentials_without_leaking() -> None:
    fake = FakeBackends()
    app = make(fake, token="wrong-token-value")
    response = run(app, lambda c: c.post("/api/toggle", json={"enabled": False}))
    assert response.status_code == 502
    assert "POLICY_ENGINE_TOKEN" in response.json()["detail"]
    assert "wrong-token-value" not in response.text
    assert fake.enabled is True


def test_toggle_rejects_bad_body_and_cross_origin_without_calling_backend() -> None:
    fake = FakeBackends()
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post("/api/toggle", json={"enabled": "yes"}),
            await client.post("/api/toggle", json={"enabled": True, "extra": 1}),
            await client.post(
                "/api/toggle", content=b"not json", headers={"content-type": "application/json"}
            ),
            await client.post(
                "/api/toggle", json={"enabled": False}, headers={"origin": "http://evil.example"}
            ),
        ]

    bad_type, extra, garbage, cross = run(app, body)
    assert bad_type.status_code == 422
    assert extra.status_code == 422
    assert garbage.status_code == 422
    assert cross.status_code == 403
    assert not [r for r in fake.calls if r.url.path == "/toggle"]
    assert fake.enabled is True


def test_toggle_when_policy_engine_down_is_a_clear_502() -> None:
    fake = FakeBackends(policy_down=True)
    response = run(make(fake), lambda c: c.post("/api/toggle", json={"enabled": False}))
    assert response.status_code == 502
    assert "policy engine" in response.json()["detail"]
    assert "cannot connect" in response.json()["detail"]


def test_anomaly_detail_has_evidence_related_actions_and_links() -> None:
    fake = FakeBackends(
        anomalies=[anomaly("a-1")],
        actions=[
            action("act-2", "a-1", created_at=1020.0),
            action("act-x", "a-other"),
            action("act-1", "a-1"),
        ],
    )
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get("/api/anomalies/a-1"), await client.get("/api/anomalies/nope")]

    found, missing = run(app, body)
    assert found.status_code == 200
    data = found.json()
    assert data["anomaly"]["evidence"]["values"] == [0.02, 0.8, 0.7]
    assert [a["id"] for a in data["actions"]] == ["act-1", "act-2"]
    assert data["links"]["jaeger"].startswith("http://jaeger.example:16686/search?service=orders")
    assert "start=" in data["links"]["jaeger"]
    assert data["triage"]["suspected_cause"]["caused_by"] == ["payments"]
    assert data["triage_error"] is None
    assert missing.status_code == 404


def test_anomaly_detail_without_triage_says_why_and_keeps_the_rest() -> None:
    fake = FakeBackends(anomalies=[anomaly("a-1")], triage_status=503)
    response = run(make(fake), lambda c: c.get("/api/anomalies/a-1"))
    assert response.status_code == 200
    body = response.json()
    assert body["triage"] is None
    assert "503" in body["triage_error"]
    assert body["anomaly"]["evidence"]["values"] == [0.02, 0.8, 0.7]


def test_anomaly_detail_when_anomaly_service_down_is_502() -> None:
    fake = FakeBackends(anomaly_down=True)
    response = run(make(fake), lambda c: c.get("/api/anomalies/a-1"))
    assert response.status_code == 502
    assert "anomaly service" in response.json()["detail"]


def test_anomaly_detail_survives_policy_engine_down() -> None:
    fake = FakeBackends(anomalies=[anomaly("a-1")], policy_down=True)
    response = run(make(fake), lambda c: c.get("/api/anomalies/a-1"))
    assert response.status_code == 200
    assert response.json()["actions"] == []
    assert "policy engine" in response.json()["actions_error"]


def test_token_is_in_no_browser_facing_answer() -> None:
    fake = FakeBackends(anomalies=[anomaly("a-1")], actions=[action("act-1", "a-1")])
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> list[str]:
        await app.state.poller.poll_once()
        texts = []
        for path in (
            "/",
            "/static/app.js",
            "/static/app.css",
            "/api/snapshot",
            "/api/anomalies/a-1",
            "/metrics",
            "/api/openapi.json",
            "/ready",
        ):
            response = await client.get(path)
            assert response.status_code == 200, path
            texts.append(response.text)
        return texts

    for text in run(app, body):
        assert TOKEN not in text


def test_ready_after_first_poll_and_metrics() -> None:
    fake = FakeBackends(policy_down=True)
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> tuple[int, int, str]:
        before = (await client.get("/ready")).status_code
        await app.state.poller.poll_once()
        after = (await client.get("/ready")).status_code
        return before, after, (await client.get("/metrics")).text

    before, after, metrics = run(app, body)
    assert (before, after) == (503, 200)
    assert 'dashboard_backend_up{backend="policy"} 0.0' in metrics
    assert 'dashboard_backend_up{backend="anomaly"} 1.0' in metrics
    assert "dashboard_event_stream_clients 0.0" in metrics


class _FakeRequest:
    """What `stream` uses of a Request: the app and the disconnect check."""

    def __init__(self, app: FastAPI, polls: int) -> None:
        self.app = app
        self.left = polls

    async def is_disconnected(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_event_stream_pushes_snapshot_then_heartbeat_then_change() -> None:
    fake = FakeBackends()
    app = make(fake, poll_interval_s=0.1)
    poller = app.state.poller

    async def main() -> list[tuple[str, dict[str, Any]]]:
        await poller.poll_once()
        gen = stream(_FakeRequest(app, polls=3))  # type: ignore[arg-type]
        assert isinstance(gen, AsyncGenerator)
        events = []
        assert (await anext(gen)).startswith("retry:")
        events.append(await anext(gen))  # the current snapshot at once
        await poller.poll_once()  # nothing changed: heartbeat
        events.append(await anext(gen))
        fake.anomalies.append(anomaly("a-new"))
        await poller.poll_once()  # a new anomaly: full snapshot
        events.append(await anext(gen))
        await gen.aclose()
        out = []
        for raw in events:
            lines = raw.strip().split("\n")
            out.append(
                (lines[0].removeprefix("event: "), json.loads(lines[1].removeprefix("data: ")))
            )
        return out

    events = asyncio.run(main())
    assert [name for name, _ in events] == ["snapshot", "heartbeat", "snapshot"]
    assert events[0][1]["anomalies"]["items"] == []
    assert events[1][1]["backends"]["anomaly"]["status"] == "ok"
    assert [a["id"] for a in events[2][1]["anomalies"]["items"]] == ["a-new"]
    assert app.state.hub.clients == 0


def test_anomaly_detail_rejects_ids_that_are_not_a_plain_segment() -> None:
    fake = FakeBackends(anomalies=[anomaly("a-1")])
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> list[int]:
        paths = [
            "/api/anomalies/%2E%2E",
            "/api/anomalies/a%20b",
            "/api/anomalies/" + "x" * 200,
            "/api/anomalies/a%3Fstatus%3Dactive",
        ]
        return [(await client.get(p)).status_code for p in paths]

    codes = run(app, body)
    assert codes[0] in (404, 422)  # ".." may already be resolved by the URL parser
    assert codes[1:] == [422, 422, 422]
    assert ANOMALY_ID.fullmatch("..") is None
    assert ANOMALY_ID.fullmatch(".") is None
    assert ANOMALY_ID.fullmatch("a-775f00bbd2ba45af") is not None
    assert not [r for r in fake.calls if r.url.path.startswith("/anomalies/")]


def test_garbage_answers_are_errors_and_keep_the_last_good_data() -> None:
    fake = FakeBackends(anomalies=[anomaly("a-1")])
    app = make(fake)
    good_handler = fake._anomaly

    def garbage(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/predict":
            return httpx.Response(200, json=[1, 2])
        if path == "/services/health":
            return httpx.Response(200, json={"services": "nope"})
        if path == "/anomalies":
            return httpx.Response(200, content=b"<html>proxy error</html>")
        return good_handler(request)

    async def body(client: httpx.AsyncClient) -> dict[str, Any]:
        await app.state.poller.poll_once()
        fake._anomaly = garbage  # type: ignore[method-assign]
        fake.now += 1
        await app.state.poller.poll_once()
        return (await client.get("/api/snapshot")).json()

    snap = run(app, body)
    state = snap["backends"]["anomaly"]
    assert state["status"] == "unreachable"
    assert "not an object" in state["error"]
    assert "no 'services' list" in state["error"]
    assert "not JSON" in state["error"]
    assert snap["services"][0]["service"] == "orders"  # the last good answer, not the garbage
    assert [a["id"] for a in snap["anomalies"]["items"]] == ["a-1"]


def test_anomaly_detail_finds_its_first_action_under_a_flood_of_skips() -> None:
    """The engine audits a skip each evaluation; the real action is older than 500 records."""
    first = action("act-real", "a-1", created_at=1001.0)
    skips = []
    for i in range(700):
        skip = action(f"skip-{i}", "a-1", created_at=1002.0 + i)
        skip.update(outcome="skipped", reason="cooldown", dry_run=False)
        skips.append(skip)
    fake = FakeBackends(anomalies=[anomaly("a-1")], actions=[first, *skips])
    response = run(make(fake), lambda c: c.get("/api/anomalies/a-1"))
    data = response.json()
    assert data["actions"][0]["id"] == "act-real"
    assert len(data["actions"]) == 701
    assert data["actions_error"] is None
    pages = [r for r in fake.calls if r.url.path == "/actions"]
    assert [r.url.params["offset"] for r in pages] == ["0", "500"]


def test_real_actions_stay_in_the_snapshot_under_a_flood_of_skips() -> None:
    real = action("act-real", "a-1", created_at=1001.0)
    skips = []
    for i in range(300):
        skip = action(f"skip-{i}", "a-1", created_at=1002.0 + i)
        skip.update(outcome="skipped", reason="cooldown")
        skips.append(skip)
    fake = FakeBackends(actions=[real, *skips])
    app = make(fake)

    async def body(client: httpx.AsyncClient) -> dict[str, Any]:
        await app.state.poller.poll_once()
        return (await client.get("/api/snapshot")).json()

    items = run(app, body)["actions"]["items"]
    ids = [a["id"] for a in items]
    assert "act-real" in ids
    assert ids[-1] == "act-real"  # newest first, the real one oldest
    assert len(ids) == 101  # the newest 100 records plus the real one, no duplicates
