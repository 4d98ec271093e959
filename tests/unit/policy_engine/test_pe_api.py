"""The HTTP API in process: shapes, auth, and bad input -> clear 4xx with nothing changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pe_fakes import (
    FakeSnapshots,
    alert,
    fake_app,
    series,
)

from policy_engine.actuator.selection import parse_rfc3339
from policy_engine.engine import Engine

POLICIES = """
policies:
  - name: orders_latency
    condition: "latency > 0.5"
    action: restart_container
    service: orders
    cooldown: 300
"""
TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = fake_app(policy_engine_token=TOKEN, max_body_bytes=100_000)
    app.state.engine.apply(POLICIES.encode())
    # every mutating endpoint takes JSON only (relia_web.guard): say so on every request
    with TestClient(app, headers={"Content-Type": "application/json"}) as c:
        yield c


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def nothing_changed(client: TestClient) -> None:
    engine = engine_of(client)
    assert engine.store.count_actions() == 0
    assert engine.actuator.calls == []  # type: ignore[attr-defined]
    assert engine.enabled is True


def test_status_and_policies_shapes(client: TestClient) -> None:
    status = client.get("/status").json()
    assert status["enabled"] is True
    assert status["dry_run"] is False
    assert status["policies"]["valid"] is True
    assert status["policies"]["count"] == 1
    assert status["policies"]["version"].startswith("sha256-")
    assert status["actions"] == {"total": 0, "last_hour": 0}
    body = client.get("/policies").json()
    item = body["items"][0]
    assert item["name"] == "orders_latency"
    assert item["cooldown_remaining_s"] == 0
    assert {
        "condition",
        "action",
        "service",
        "cooldown",
        "enabled",
        "for",
        "dry_run",
        "params",
        "budget",
        "budget_used",
    } <= set(item)
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_alert_then_action_listing_filters_and_paging(client: TestClient) -> None:
    response = client.post("/alerts", json=alert(), headers=AUTH)
    assert response.status_code == 200, response.text
    action_id = response.json()["scheduled"][0]["id"]
    engine = engine_of(client)
    for _ in range(200):  # the action runs as a task on the app's loop
        if engine.store.get_action(action_id) is not None:
            break
        client.get("/health")
    record = client.get(f"/actions/{action_id}").json()
    assert record["outcome"] == "succeeded"
    assert record["trigger"]["anomaly_id"] == "a-1"
    page = client.get("/actions", params={"policy": "orders_latency", "limit": 1}).json()
    assert page["total"] == 1
    assert page["limit"] == 1
    assert page["offset"] == 0
    assert client.get("/actions", params={"outcome": "failed"}).json()["total"] == 0
    assert client.get("/actions", params={"service": "users"}).json()["items"] == []
    metrics = client.get("/metrics").text
    assert (
        'policy_engine_actions_total{action="restart_container",outcome="succeeded",'
        'policy="orders_latency"} 1.0' in metrics
    )
    assert "policy_engine_policies_valid 1.0" in metrics
    assert "policy_engine_remediation_enabled 1.0" in metrics


def test_toggle_sets_flips_and_needs_token(client: TestClient) -> None:
    assert client.post("/toggle", content=b'{"enabled": false}', headers=AUTH).json() == {
        "enabled": False
    }
    assert client.post("/toggle", headers=AUTH).json() == {"enabled": True}  # no body flips
    # curl -d sends a form content-type, as does a cross-site form: refused, nothing changed
    r = client.post(
        "/toggle",
        content=b'{"enabled": false}',
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415
    assert client.get("/status").json()["enabled"] is True


GOOD = json.dumps(alert()).encode()


BAD_INPUT = [
    ("garbage JSON", "/alerts", b"not json{", AUTH, 400, "not valid JSON"),
    ("empty body", "/alerts", b"", AUTH, 400, "not valid JSON"),
    ("invalid UTF-8", "/alerts", b'{"a": "\xff"}', AUTH, 400, "not valid JSON"),
    (
        "NaN literal",
        "/alerts",
        GOOD.replace(b'"truncatedAlerts": 0', b'"truncatedAlerts": NaN'),
        AUTH,
        400,
        "NaN is not allowed",
    ),
    ("Infinity literal", "/alerts", b'{"x": Infinity}', AUTH, 400, "Infinity is not allowed"),
    ("overflowing number", "/alerts", b'{"x": 1e999}', AUTH, 400, "must be finite"),
    ("array body", "/alerts", b"[1, 2]", AUTH, 422, "invalid request body"),
    ("missing alerts", "/alerts", b'{"version": "4", "status": "firing"}', AUTH, 422, "alerts"),
    (
        "alerts not a list",
        "/alerts",
        b'{"version": "4", "status": "firing", "alerts": {}}',
        AUTH,
        422,
        "alerts",
    ),
    (
        "unknown status",
        "/alerts",
        GOOD.replace(b'"status": "firing"', b'"status": "exploded"'),
        AUTH,
        422,
        "status",
    ),
    (
        "label not a string",
        "/alerts",
        GOOD.replace(b'"value": "0.9"', b'"value": 0.9'),
        AUTH,
        422,
        "annotations.value",
    ),
    (
        "wrong webhook version",
        "/alerts",
        GOOD.replace(b'"version": "4"', b'"version": "3"'),
        AUTH,
        422,
        "only Alertmanager webhook version 4",
    ),
    (
        "1001 alerts",
        "/alerts",
        json.dumps({**alert(), "alerts": alert()["alerts"] * 1001}).encode(),
        AUTH,
        413,
        "body larger",
    ),
    ("huge body", "/alerts", b"{" + b" " * 200_000 + b"}", AUTH, 413, "larger than 100000"),
    ("missing token", "/alerts", GOOD, {}, 401, "bearer token"),
    ("wrong token", "/alerts", GOOD, {"Authorization": "Bearer nope"}, 401, "bearer token"),
    ("wrong scheme", "/alerts", GOOD, {"Authorization": f"Basic {TOKEN}"}, 401, "bearer"),
    ("toggle string bool", "/toggle", b'{"enabled": "false"}', AUTH, 422, "enabled"),
    ("toggle null", "/toggle", b'{"enabled": null}', AUTH, 422, "enabled"),
    ("toggle empty object", "/toggle", b"{}", AUTH, 422, "enabled: Field required"),
    ("toggle garbage", "/toggle", b"flip it", AUTH, 400, "not valid JSON"),
    ("toggle without token", "/toggle", b'{"enabled": false}', {}, 401, "bearer"),
    (
        "manual unknown action",
        "/actions",
        b'{"action": "nuke", "service": "orders"}',
        AUTH,
        422,
        "unknown action 'nuke'",
    ),
    (
        "manual bad service",
        "/actions",
        b'{"action": "restart_container", "service": "../etc"}',
        AUTH,
        422,
        "service",
    ),
    (
        "manual unknown param",
        "/actions",
        b'{"action": "scale_up", "service": "orders", "params": {"replicas": 9}}',
        AUTH,
        422,
        "params.replicas: unknown parameter",
    ),
    (
        "manual bad step",
        "/actions",
        b'{"action": "scale_up", "service": "orders", "params": {"step": -1}}',
        AUTH,
        422,
        "params.step",
    ),
    (
        "manual NaN param",
        "/actions",
        b'{"action": "scale_up", "service": "orders", "params": {"step": NaN}}',
        AUTH,
        400,
        "NaN is not allowed",
    ),
    ("manual missing service", "/actions", b'{"action": "scale_up"}', AUTH, 422, "service"),
    (
        "manual without token",
        "/actions",
        b'{"action": "restart_container", "service": "orders"}',
        {},
        401,
        "bearer",
    ),
    ("reload without token", "/policies/reload", b"", {}, 401, "bearer"),
]


@pytest.mark.parametrize(
    ("name", "path", "body", "headers", "status", "message"),
    BAD_INPUT,
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_is_refused_and_changes_nothing(
    client: TestClient,
    name: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == status, (name, response.text)
    assert message in response.text, (name, response.text)
    nothing_changed(client)
    # and the refused request left no trace: the same alert delivered properly still acts
    ok = client.post("/alerts", content=GOOD, headers=AUTH)
    assert ok.status_code == 200, name
    assert len(ok.json()["scheduled"]) == 1, name


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"outcome": "bogus"}, {"since": "nan"},
     {"since": "yesterday"}],
)  # fmt: skip
def test_bad_action_queries(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/actions", params=params).status_code == 422


def test_unknown_action_id_is_404(client: TestClient) -> None:
    response = client.get("/actions/act-nope")
    assert response.status_code == 404
    assert "no action 'act-nope'" in response.text


def test_nan_value_in_annotation_never_acts(client: TestClient) -> None:
    body = alert(value="NaN")
    response = client.post("/alerts", json=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["ignored"] == 1
    nothing_changed(client)


def test_reload_reports_an_invalid_file_and_keeps_the_old_set(
    client: TestClient, tmp_path: Path
) -> None:
    engine = engine_of(client)
    version = engine.policies.active.version  # type: ignore[union-attr]
    broken = tmp_path / "p.yml"
    broken.write_text(POLICIES.replace("latency > 0.5", "latency >> 0.5"))
    engine.settings = engine.settings.model_copy(update={"policies_file": broken})
    response = client.post("/policies/reload", headers=AUTH)
    assert response.status_code == 422
    body = response.json()
    assert body["valid"] is False
    assert body["version"] == version
    assert body["error"]["policy"] == "orders_latency"
    assert body["error"]["field"] == "condition"
    assert body["items"][0]["name"] == "orders_latency"  # still the active set
    status = client.get("/status").json()["policies"]
    assert status["valid"] is False
    assert status["running_last_good"] is True
    assert "policy_engine_policies_valid 0.0" in client.get("/metrics").text


BUSY_GUARD = """
policies:
  - name: orders_latency
    condition: "latency > 0.5 and severity >= warning and cpu < 0.3"
    action: restart_container
    service: orders
    cooldown: 300
"""


@pytest.mark.parametrize(("cpu_now", "acts"), [(0.62, False), (0.24, True)])
def test_an_alert_is_judged_with_the_other_signals_of_its_own_cycle(
    client: TestClient, cpu_now: float, acts: bool
) -> None:
    """The engine last polled /predict a cycle ago (cpu 0.24, a load spike just starting);
    the latency event comes from the next cycle, in which cpu is `cpu_now`."""
    engine = engine_of(client)
    engine.apply(BUSY_GUARD.encode())
    snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
    snaps.set(series("orders", "cpu", 0.24))
    client.portal.call(engine.cycle)  # type: ignore[union-attr]
    engine.clock.advance(5)  # type: ignore[attr-defined]
    snaps.set(series("orders", "cpu", cpu_now), series("orders", "latency", 0.83, "critical"))
    response = client.post("/alerts", json=alert(value="0.83"), headers=AUTH)
    assert response.status_code == 200, response.text
    assert len(response.json()["scheduled"]) == (1 if acts else 0)


def test_an_alert_from_the_cycle_already_held_does_not_re_read_predict(client: TestClient) -> None:
    engine = engine_of(client)
    snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
    opened = datetime(2026, 11, 21, 19, 40, tzinfo=UTC).timestamp()
    snaps.set(series("orders", "latency", 0.9, "warning"), cycle_at=opened)
    client.portal.call(engine.cycle)  # type: ignore[union-attr]
    engine.clock.advance(5)  # type: ignore[attr-defined]
    before = snaps.fetches
    response = client.post(
        "/alerts", json=alert(starts_at="2026-11-21T19:40:00.000Z"), headers=AUTH
    )
    assert response.status_code == 200
    assert len(response.json()["scheduled"]) == 1
    assert snaps.fetches == before
    # A later cycle's event does re-read it; so does one whose start is not a time at all.
    client.post("/alerts", json=alert(starts_at="2026-11-21T19:40:05.000Z", fingerprint="f2"),
                headers=AUTH)  # fmt: skip
    assert snaps.fetches == before + 1
    engine.clock.advance(5)  # type: ignore[attr-defined]
    client.post("/alerts", json=alert(starts_at="soon", fingerprint="f3"), headers=AUTH)
    assert snaps.fetches == before + 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T19:40:00.123Z", datetime(2026, 11, 21, 19, 40, 0, 123000, UTC).timestamp()),
        ("2026-11-21T20:40:00+01:00", datetime(2026, 11, 21, 19, 40, tzinfo=UTC).timestamp()),
        ("", None),
        ("yesterday", None),
    ],
)
def test_alert_start_times_parse_or_are_unknown(text: str, expected: float | None) -> None:
    assert parse_rfc3339(text) == expected


def test_actions_filter_by_every_outcome_a_record_can_have(client: TestClient) -> None:
    """pending and interrupted records (an action in flight, or cut short by a crash) are
    listed and filterable like the others."""
    from policy_engine.models import ActionRecord, Trigger

    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    for i, outcome in enumerate(("pending", "interrupted", "succeeded")):
        engine.store.save_action(
            ActionRecord(
                id=f"act-o{i}",
                created_at=1000.0 + i,
                policy="p",
                action="restart_container",
                service="orders",
                outcome=outcome,  # type: ignore[arg-type]
                trigger=Trigger(source="manual"),
            )
        )
    for outcome in ("pending", "interrupted", "succeeded"):
        body = client.get("/actions", params={"outcome": outcome}).json()
        assert [a["outcome"] for a in body["items"]] == [outcome], body
    assert client.get("/actions", params={"outcome": "exploded"}).status_code == 422
