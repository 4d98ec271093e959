"""GET /silences, GET /maintenance and /status's Alertmanager block, in process."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from pe_fakes import FakeClock, fake_app

from policy_engine.alertmanager import AlertmanagerClient

POLICIES = """
policies: []
maintenance:
  - {name: now, services: [orders], start: "2020-01-01T00:00:00Z", end: "2099-01-01T00:00:00Z"}
  - name: weekly
    weekly: {days: [sat], start: "23:00", end: "01:00", timezone: Europe/Berlin}
"""
SILENCES = [
    {
        "id": "live",
        "matchers": [{"name": "service", "value": "orders", "isRegex": False, "isEqual": True}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "sre",
        "comment": "failover",
        "status": {"state": "active"},
    },
    {
        "id": "old",
        "matchers": [{"name": "service", "value": "orders", "isRegex": False, "isEqual": True}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2020-01-02T00:00:00Z",
        "status": {"state": "expired"},
    },
]


def app_with(handler: object | None) -> TestClient:
    clock = FakeClock()  # 2027-01-15 (a Friday): the weekly window is closed
    am = None
    if handler is not None:
        transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
        am = AlertmanagerClient("http://am.test:9093", attempts=1, transport=transport)
    app = fake_app(clock=clock, alertmanager=am)
    app.state.engine.apply(POLICIES.encode())
    return TestClient(app)


def test_silences_lists_only_active_ones_after_a_refresh() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v2/silences"
        calls.append(request.url.path)
        return httpx.Response(200, json=SILENCES)

    with app_with(handler) as client:
        before = client.get("/silences").json()
        assert before["configured"]
        assert before["silences"] == []
        assert before["fresh"] is False
        body = client.get("/silences", params={"refresh": "true"}).json()
        assert body["reachable"]
        assert body["fresh"]
        assert body["error"] is None
        assert [s["id"] for s in body["silences"]] == ["live"]
        assert body["silences"][0]["matchers"] == ['service="orders"']
        assert client.get("/status").json()["alertmanager"]["reachable"] is True
        # a second refresh within a second (the fake clock stands still) asks nothing
        client.get("/silences", params={"refresh": "true"})
        assert len(calls) == 1


def test_alertmanager_down_or_unset_is_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with app_with(handler) as client:
        body = client.get("/silences", params={"refresh": "true"}).json()
        assert body["reachable"] is False
        assert "ConnectError" in body["error"]
        assert client.get("/status").json()["alertmanager"]["error"] == body["error"]
    with app_with(None) as client:
        body = client.get("/silences", params={"refresh": "true"}).json()
        assert body["configured"] is False
        assert body["url"] is None
        assert body["silences"] == []


def test_maintenance_lists_windows_with_their_state() -> None:
    with app_with(None) as client:
        body = client.get("/maintenance").json()
        now, weekly = body["windows"]
        assert (now["name"], now["active"], now["services"]) == ("now", True, ["orders"])
        assert now["active_until"] == 4070908800.0
        assert weekly["active"] is False
        assert weekly["services"] == ["*"]
        assert weekly["weekly"] == {
            "days": ["sat"],
            "start": "23:00",
            "end": "01:00",
            "timezone": "Europe/Berlin",
        }
