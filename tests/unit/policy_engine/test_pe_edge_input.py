"""Edge input of the policy engine: the caller can't pick the alert URL, paging overflows are a
422, and the audit log is pruned by age and count (never an unverified record)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pe_fakes import fake_app

from policy_engine.app import prune_actions
from policy_engine.engine import Engine
from policy_engine.models import ActionRecord
from policy_engine.store import Store

POLICIES = b"""
policies:
  - name: page_oncall
    condition: "latency > 0.5"
    action: alert
    service: orders
    params: {url: "http://hooks.internal/relia"}
"""
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = fake_app()
    app.state.engine.apply(POLICIES)
    with TestClient(app, headers=JSON) as c:
        yield c


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data", "http://hooks.internal/relia"]
)
def test_manual_alert_url_cannot_be_chosen_by_the_caller(client: TestClient, url: str) -> None:
    body = {"action": "alert", "service": "orders", "params": {"url": url, "message": "hi"}}
    answer = client.post("/actions", json=body)
    assert answer.status_code == 422
    assert any("params.url" in e for e in answer.json()["detail"]["errors"])
    notifier = engine_of(client).notifier
    assert notifier.sent == []  # type: ignore[attr-defined]
    assert client.get("/actions").json()["total"] == 0


def test_manual_alert_goes_to_the_configured_url_only(client: TestClient) -> None:
    engine = engine_of(client)
    engine.settings.alert_webhook_url = "http://configured.internal/hook"
    engine.apply(POLICIES, force=True)  # effective settings (environment + file) are built at load
    answer = client.post("/actions", json={"action": "alert", "service": "orders"})
    assert answer.status_code == 201, answer.text
    sent = engine.notifier.sent  # type: ignore[attr-defined]
    assert [url for url, _ in sent] == ["http://configured.internal/hook"]


@pytest.mark.parametrize(
    "query",
    [
        "offset=9223372036854775808",
        "offset=9223372036854775807",
        "offset=-1",
        "limit=9223372036854775808",
        "since=1e400",
    ],
)
def test_out_of_range_paging_is_422(client: TestClient, query: str) -> None:
    answer = client.get(f"/actions?{query}")
    assert answer.status_code == 422, answer.text


def _record(i: int, created_at: float, verification: str = "not_applicable") -> ActionRecord:
    return ActionRecord(
        id=f"act-{i:06d}",
        created_at=created_at,
        policy="p",
        action="restart_container",
        service="orders",
        outcome="succeeded",
        verification=verification,  # type: ignore[arg-type]
    )


def test_store_prunes_by_age_and_count_but_keeps_pending() -> None:
    store = Store(Path(":memory:"))
    for i in range(10):
        store.save_action(_record(i, 1000.0 + i))
    store.save_action(_record(99, 1.0, verification="pending"))  # old but awaiting verification
    assert store.prune_actions(older_than=1003.0, keep=1000) == 3
    assert store.count_actions() == 8
    assert store.prune_actions(older_than=0.0, keep=4) == 3
    kept = {r.id for r in store.list_actions(limit=100, offset=0)[0]}
    assert kept == {"act-000006", "act-000007", "act-000008", "act-000009", "act-000099"}
    assert store.prune_actions(older_than=0.0, keep=4) == 0


def test_prune_actions_follows_the_settings(client: TestClient) -> None:
    engine = engine_of(client)
    now = engine.clock()
    engine.settings.actions_retention_days = 1
    engine.settings.actions_max_records = 1000
    for i in range(1200):
        engine.store.save_action(_record(i, now - 3600 - i))
    engine.store.save_action(_record(5000, now - 5 * 86400))
    assert prune_actions(engine) == 201
    assert engine.store.count_actions() == 1000
    assert client.get("/actions?limit=1").json()["items"][0]["id"] == "act-000000"
