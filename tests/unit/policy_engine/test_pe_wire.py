"""The policy engine's answers through their response models (relia_contracts.policy_views): the
OpenAPI document names each model, and each model passes the answer on exactly as the handler
built it (tests/support/wire.py): fresh, after an action, with an open breaker, an invalid file
kept out, and paused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pe_fakes import FakeSnapshots, alert, fake_app, series

from policy_engine.actuator.types import ContainerChange
from policy_engine.api.breakers import BreakerReset
from policy_engine.engine import Engine
from policy_engine.guards import BreakerState
from relia_contracts.policy_views import (
    AlertIntake,
    ContainerChanges,
    PlanView,
    PoliciesView,
    PolicyEngineStatus,
    Toggled,
)
from tests.support.wire import RAW, add_raw_twins, differences, schema_ref

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
POLICIES = """
settings:
  budgets:
    per_service: {max: 6, window: 1h}
  breaker: {failures: 3, open_for: 15m}
policies:
  - name: orders_latency
    condition: "latency > 0.5"
    action: restart_container
    service: orders
    cooldown: 300
    budget: {max: 3, window: 10m}
  - name: orders_cpu
    condition: "cpu > 0.8"
    for: 30s
    action: scale_up
    service: orders
    params: {step: 1, min_replicas: 1, max_replicas: 3}
  - name: users_page
    description: "page someone"
    condition: "severity >= warning"
    action: alert
    service: users
    alert: {alertname: HighErrorRate, labels: {job: users}}
    dry_run: true
"""
SERVICES = ("orders", "users", "nobody")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    policies_file = tmp_path / "policies.yml"
    policies_file.write_text(POLICIES)
    app = fake_app(policy_engine_token=TOKEN, policies_file=policies_file)
    assert set(add_raw_twins(app)) >= {"/status", "/policies", "/plan"}
    with TestClient(app, headers={"Content-Type": "application/json"}) as c:
        yield c


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def same(client: TestClient, path: str, **params: str) -> Any:
    """The modelled answer; it equals the handler's own, key for key and type for type."""
    typed, raw = client.get(path, params=params), client.get(RAW + path, params=params)
    assert typed.status_code == raw.status_code == 200, (path, typed.text)
    assert differences(typed.json(), raw.json()) == [], path
    return typed.json()


def every_route(client: TestClient) -> dict[str, Any]:
    status = PolicyEngineStatus.model_validate(same(client, "/status"))
    PoliciesView.model_validate(same(client, "/policies"))
    plans = {s: same(client, "/plan", service=s) for s in SERVICES}
    for service in SERVICES:
        ContainerChanges.model_validate(same(client, "/changes", service=service))
    for plan in plans.values():
        PlanView.model_validate(plan)
    assert status.policies.count == 3
    return plans


def test_openapi_names_the_model_of_every_route(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    models = {
        ("/status", "get"): PolicyEngineStatus,
        ("/policies", "get"): PoliciesView,
        ("/plan", "get"): PlanView,
        ("/changes", "get"): ContainerChanges,
        ("/alerts", "post"): AlertIntake,
        ("/toggle", "post"): Toggled,
        ("/breakers/{target}/reset", "post"): BreakerReset,
    }
    for (path, method), model in models.items():
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        assert schema_ref(doc, path, method) == ref, path
    policies_ref = {"$ref": "#/components/schemas/PoliciesView"}
    assert schema_ref(doc, "/policies/reload", "post") == policies_ref
    assert schema_ref(doc, "/policies/reload", "post", "422") == policies_ref
    view = doc["components"]["schemas"]["PolicyView"]["properties"]
    assert "for" in view  # the wire name, not the Python one
    assert "for_s" not in view
    assert "global" in doc["components"]["schemas"]["Budgets"]["properties"]


def test_the_models_change_nothing_in_any_state(client: TestClient) -> None:
    engine = engine_of(client)
    plans = every_route(client)  # fresh: no snapshot yet, nothing acted
    assert plans["orders"]["policies"][0]["condition_holds"] is None
    assert "would_act" not in plans["orders"]["policies"][0]  # absent, not null
    snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
    snaps.set(
        series("orders", "latency", 0.9, "critical", "deviation", "a-1"),
        series("orders", "cpu", 0.9),
        series("users", "latency", 0.1),
    )
    actuator = engine.actuator
    change = ContainerChange(at=engine.clock() - 5, action="die", container="o-1", exit_code=137)
    actuator.events.append(("orders", change))  # type: ignore[attr-defined]
    answer = client.post("/alerts", json=alert(), headers=AUTH)
    assert answer.status_code == 200, answer.text
    intake = AlertIntake.model_validate(answer.json())
    assert [s.policy for s in intake.scheduled] == ["orders_latency"]
    again = AlertIntake.model_validate(client.post("/alerts", json=alert(), headers=AUTH).json())
    assert (again.duplicates, again.scheduled) == (1, [])
    client.portal.call(engine.drain, 5.0)  # type: ignore[union-attr]
    client.portal.call(engine.cycle)  # type: ignore[union-attr]
    plans = every_route(client)  # acted: cooldown, budgets used, a fresh snapshot
    rows = {r["policy"]: r for r in plans["orders"]["policies"]}
    assert rows["orders_latency"]["would_act"] is False
    assert rows["orders_latency"]["verdict"] == "blocked: cooldown"
    assert plans["nobody"]["summary"] == "no enabled policy for nobody"
    assert same(client, "/changes", service="orders")["items"][0]["exit_code"] == 137
    engine.store.set_breaker("orders", BreakerState("open", 3, engine.clock(), False))
    assert same(client, "/status")["breakers"]["orders"]["state"] == "open"
    every_route(client)
    reset = client.post("/breakers/orders/reset", json={"reason": "fixed"}, headers=AUTH)
    assert reset.status_code == 200, reset.text
    audit = BreakerReset.model_validate(reset.json()).action
    (listed,) = client.get("/actions", params={"action": "breaker_reset"}).json()["items"]
    assert differences(reset.json()["action"], listed) == []  # the record as GET /actions has it
    assert audit.trigger.reason == "fixed"
    assert differences(reset.json()["breaker"], same(client, "/status")["breakers"]["orders"]) == []
    toggled = client.post("/toggle", json={"enabled": False}, headers=AUTH)
    assert toggled.json() == {"enabled": False}
    assert same(client, "/status")["enabled"] is False
    every_route(client)


def test_reload_answers_the_policies_view_valid_or_not(client: TestClient) -> None:
    engine = engine_of(client)
    Path(engine.file).write_text("policies: [ {name: 1} ]")
    bad = client.post("/policies/reload", headers=AUTH)
    assert bad.status_code == 422
    view = PoliciesView.model_validate(bad.json())
    assert view.valid is False
    assert view.running_last_good is True
    assert view.count == 3  # the last good set keeps running
    assert differences(bad.json(), same(client, "/policies")) == []
    Path(engine.file).write_text(POLICIES)
    good = client.post("/policies/reload", headers=AUTH)
    assert good.status_code == 200
    assert differences(good.json(), same(client, "/policies")) == []
    assert good.json()["error"] is None
