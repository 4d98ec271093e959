"""History store (SQLite in a temp dir), retention, and a restart of the app on the same file:
ids stable, open anomalies not duplicated, feedback and sensitivity kept; the feedback API's
bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from anomaly_fakes import FakeClock, FakePrometheus, ListNotifier, spec, steady
from fastapi.testclient import TestClient

from anomaly_service.app import create_app
from anomaly_service.config import Settings
from anomaly_service.history import anomaly_from_row, anomaly_row
from anomaly_service.records import Anomaly
from anomaly_service.store import HistoryStore

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def anomaly(i: int, status: str = "resolved", resolved_at: float | None = None) -> Anomaly:
    a = Anomaly(
        f"a-{i}",
        "fp",
        "orders",
        "latency",
        {"service": "orders"},
        "deviation",
        2,
        3,
        float(i),
        "seconds",
        "up",
        value=0.9,
        status=status,
    )
    a.resolved_at = resolved_at if status == "resolved" else None
    return a


def test_row_round_trip_keeps_every_field_and_the_evidence() -> None:
    import numpy as np

    a = anomaly(1, resolved_at=5.0)
    a.cause = {"caused_by": ["payments"]}
    a.caused_by_seen = ["users", "payments"]
    a.frozen_evidence = np.arange(10, dtype=float).reshape(5, 2)
    back = anomaly_from_row(*anomaly_row(a)[4:])
    assert back.to_dict() == a.to_dict()
    assert back.caused_by_seen == ["users", "payments"]
    assert back.frozen_evidence is not None
    assert back.frozen_evidence.tolist() == (a.frozen_evidence.tolist())


def test_a_row_written_before_caused_by_seen_existed_loads_with_none_seen() -> None:
    import json

    row = anomaly_row(anomaly(2))
    body = json.loads(row[4])
    del body["caused_by_seen"]
    assert anomaly_from_row(json.dumps(body), None).caused_by_seen == []


def test_retention_by_age_and_count_keeps_open_anomalies(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3")
    rows = [anomaly_row(anomaly(i, resolved_at=float(i))) for i in range(10)]
    rows.append(anomaly_row(anomaly(99, status="active")))
    store.write_anomalies(rows)
    for i in range(5):
        store.add_feedback(
            {"id": f"f-{i}", "at": float(i), "anomaly_id": "a-1"},
            {"series_id": "s", "factor": 1.0},
        )
    gone = store.prune(older_than=3.0, keep_resolved=4, keep_feedback=1)
    # by age: a-0..a-2; by count: a-3..a-5 (a-6..a-9 are the newest 4); feedback 0..2, then 3
    assert gone == 6 + 4
    bodies = [anomaly_from_row(b, e) for b, e in store.anomalies()]
    assert sorted(a.id for a in bodies) == ["a-6", "a-7", "a-8", "a-9", "a-99"]
    assert [f["id"] for f in store.feedback()] == ["f-4"]
    assert store.count("sensitivity") == 1


class Stack:
    """The app on a fake Prometheus, restartable on the same state dir."""

    def __init__(self, tmp_path: Path) -> None:
        self.prom, self.clock, self.notes = FakePrometheus(), FakeClock(), ListNotifier()
        self.prom.history["q_latency"] = {"orders": steady(60, 0.02, 0.002, seed=1)}
        self.settings = Settings(
            check_interval=5.0,
            policy_engine_url="",
            state_dir=tmp_path,
            policy_engine_token=TOKEN,
            detector_config={"min_points": 10},
        )
        self.client: TestClient | None = None

    def start(self) -> TestClient:
        app = create_app(
            self.settings,
            prometheus_client_adapter=self.prom,
            notifier=self.notes,
            clock=self.clock,
            catalog=[spec()],
            run_loop=False,
        )
        self.client = TestClient(app).__enter__()
        self.engine = app.state.engine
        return self.client

    def stop(self) -> None:
        assert self.client is not None
        self.client.__exit__(None, None, None)

    def cycle(self, value: float) -> None:
        self.prom.values["q_latency"] = {"orders": value}
        self.clock.tick(5.0)
        assert self.client is not None
        self.client.portal.call(self.engine.run_cycle)  # type: ignore[union-attr]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    s.start()
    yield s
    s.stop()


def opened(s: Stack) -> str:
    for _ in range(3):
        s.cycle(0.9)
    assert s.client is not None
    items = s.client.get("/anomalies?status=active").json()["items"]
    assert len(items) == 1
    return str(items[0]["id"])


def test_restart_keeps_history_and_readopts_the_open_anomaly(stack: Stack) -> None:
    first = opened(stack)
    fired = len(stack.notes.payloads)
    stack.stop()
    client = stack.start()  # a new app on the same SQLite file
    listed = client.get("/anomalies").json()["items"]
    assert [a["id"] for a in listed] == [first]
    assert listed[0]["status"] == "active"
    for _ in range(2):
        stack.cycle(0.9)  # still abnormal: the same incident, no second anomaly
    listed = client.get("/anomalies").json()["items"]
    assert [a["id"] for a in listed] == [first]
    assert len(stack.notes.payloads) == fired  # no second `open` event either
    for v in steady(8, 0.02, 0.001, seed=3):
        stack.cycle(v)
    one = client.get(f"/anomalies/{first}").json()
    assert one["status"] == "resolved"
    assert len(one["evidence"]["values"]) > 0
    stack.stop()
    client = stack.start()
    again = client.get(f"/anomalies/{first}").json()
    assert again["status"] == "resolved"
    assert again["evidence"] == one["evidence"]


def test_feedback_is_stored_applied_and_survives_a_restart(stack: Stack) -> None:
    first = opened(stack)
    assert stack.client is not None
    answer = stack.client.post(
        f"/anomalies/{first}/feedback",
        json={"label": "noise", "reason": "deploy window", "mute_for_s": 600},
        headers=AUTH,
    )
    assert answer.status_code == 201, answer.text
    sens = answer.json()["sensitivity"]
    assert sens["factor"] == 1.5
    assert sens["muted"] is True
    stack.cycle(0.9)  # muted: the open anomaly closes, nothing new opens
    assert stack.client.get(f"/anomalies/{first}").json()["status"] == "resolved"
    stack.cycle(0.9)
    assert stack.client.get("/anomalies?status=active").json()["total"] == 0
    series = stack.client.get("/predict").json()["series"][0]
    assert series["sensitivity"] == 1.5
    assert series["muted_until"] is not None
    stack.stop()
    client = stack.start()
    assert client.get("/sensitivity").json()["items"][0]["factor"] == 1.5
    assert client.get("/feedback/precision").json()["signals"][0]["noise"] == 1
    assert client.get(f"/anomalies/{first}").json()["feedback"] == "noise"
    sid = series["series_id"]
    assert client.delete(f"/sensitivity/{sid}").status_code == 401  # token needed
    reset = client.delete(f"/sensitivity/{sid}", headers=AUTH)
    assert reset.status_code == 200
    assert reset.json()["factor"] == 1.0
    stack.cycle(0.02)
    predicted = client.get("/predict").json()["series"][0]
    assert predicted["sensitivity"] == 1.0
    assert predicted["muted_until"] is None


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"label": "noise", "reason": "x"}, {}, 401),
        ({"label": "noise", "reason": "x"}, {"Authorization": "Bearer wrong"}, 401),
        ({"label": "meh", "reason": "x"}, AUTH, 422),
        ({"label": "noise", "reason": "x" * 501}, AUTH, 422),
        ({"label": "noise", "reason": "   "}, AUTH, 422),
        ({"label": "noise"}, AUTH, 422),
        ({"label": "confirmed", "reason": "x", "mute_for_s": 60}, AUTH, 422),
        ({"label": "noise", "reason": "x", "mute_for_s": 10**9}, AUTH, 422),
        ({"label": "noise", "reason": "x", "extra": 1}, AUTH, 422),
    ],
)
def test_feedback_bad_input_changes_nothing(
    stack: Stack, body: dict[str, object], headers: dict[str, str], status: int
) -> None:
    first = opened(stack)
    assert stack.client is not None
    answer = stack.client.post(f"/anomalies/{first}/feedback", json=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert stack.client.get("/feedback").json()["total"] == 0
    assert stack.client.get("/sensitivity").json()["items"] == []


def test_feedback_unknown_anomaly_and_cross_site(stack: Stack) -> None:
    assert stack.client is not None
    body = {"label": "noise", "reason": "x"}
    missing = stack.client.post("/anomalies/a-nope/feedback", json=body, headers=AUTH)
    assert missing.status_code == 404
    first = opened(stack)
    cross = stack.client.post(
        f"/anomalies/{first}/feedback",
        json=body,
        headers={**AUTH, "Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert stack.client.delete("/sensitivity/nope", headers=AUTH).status_code == 404
    assert stack.client.get("/feedback").json()["total"] == 0
