"""The anomaly service's answers through their response models (relia_contracts): the OpenAPI
document names each model, and each model passes the answer on exactly as the handler built it
(tests/support/wire.py), in every state the routes have: no cycle yet, steady, an incident with
an operator label, a rejected query, a service gone, Prometheus down."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from anomaly_fakes import FakeClock, FakePrometheus, ListNotifier, spec, steady
from fastapi.testclient import TestClient

from anomaly_service.api.detect import DetectAnswer
from anomaly_service.app import create_app
from anomaly_service.config import Settings
from anomaly_service.engine import Engine
from relia_contracts.anomalies import (
    AnomalyDetail,
    AnomalyPage,
    FeedbackAnswer,
    FeedbackPage,
    Precision,
    Sensitivity,
    SensitivityList,
)
from relia_contracts.anomaly_stats import AnomalyServiceStats
from relia_contracts.classification import PredictSnapshot, ServicesHealth
from relia_contracts.triage import TriagePacket
from tests.support.wire import RAW, add_raw_twins, differences, schema_ref

TOKEN = "t0ken"
MODELS = {
    "/predict": PredictSnapshot,
    "/services/health": ServicesHealth,
    "/stats": AnomalyServiceStats,
    "/anomalies": AnomalyPage,
    "/anomalies/{anomaly_id}": AnomalyDetail,
    "/anomalies/{anomaly_id}/triage": TriagePacket,
    "/feedback": FeedbackPage,
    "/feedback/precision": Precision,
    "/sensitivity": SensitivityList,
}


@dataclass
class Wire:
    client: TestClient
    prom: FakePrometheus
    clock: FakeClock
    engine: Engine
    modelled: dict[str, type[Any]]

    def cycle(self, latency: dict[str, float], cpu: dict[str, float]) -> None:
        self.prom.values["q_latency"], self.prom.values["q_cpu"] = latency, cpu
        self.clock.tick(5.0)
        self.client.portal.call(self.engine.run_cycle)  # type: ignore[union-attr]

    def same(self, path: str) -> Any:
        """The modelled answer; it equals the handler's own, key for key and type for type."""
        typed, raw = self.client.get(path), self.client.get(RAW + path)
        assert typed.status_code == raw.status_code == 200, (path, typed.text)
        assert differences(typed.json(), raw.json()) == [], path
        return typed.json()

    def every_route(self) -> int:
        """Every modelled GET route, with each filter of the list; returns the anomalies seen."""
        for path in ("/predict", "/services/health", "/stats", "/feedback", "/sensitivity"):
            self.same(path)
        for path in ("/feedback?limit=1", "/feedback/precision"):
            self.same(path)
        for query in ("", "?status=active&limit=500", "?status=resolved", "?limit=1&offset=1"):
            self.same("/anomalies" + query)
        ids = [a["id"] for a in self.same("/anomalies?limit=500")["items"]]
        for anomaly_id in ids:
            AnomalyDetail.model_validate(self.same(f"/anomalies/{anomaly_id}"))
            TriagePacket.model_validate(self.same(f"/anomalies/{anomaly_id}/triage"))
        return len(ids)


@pytest.fixture
def wire() -> Iterator[Wire]:
    prom, clock = FakePrometheus(), FakeClock()
    prom.history["q_latency"] = {
        s: steady(80, 0.02, 0.002, seed=i) for i, s in enumerate(["orders", "users"])
    }
    prom.history["q_cpu"] = {s: steady(80, 0.1, 0.005, seed=9) for s in ["orders", "users"]}
    prom.replicas = {"orders": (1, 1), "users": (2, 2)}
    app = create_app(
        Settings(check_interval=5.0, policy_engine_url="", policy_engine_token=TOKEN),
        prometheus_client_adapter=prom,
        notifier=ListNotifier(),
        clock=clock,
        catalog=[spec(), spec(name="cpu", query="q_cpu", unit="cores", floor=0.8)],
        run_loop=False,
    )
    modelled = add_raw_twins(app)
    with TestClient(app) as client:
        yield Wire(client, prom, clock, app.state.engine, modelled)


def test_openapi_names_the_model_of_every_route(wire: Wire) -> None:
    doc = wire.client.get("/openapi.json").json()
    for path, model in MODELS.items():
        assert wire.modelled[path] is model, path
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        assert schema_ref(doc, path) == ref, path
    post = "/anomalies/{anomaly_id}/feedback"
    assert schema_ref(doc, post, "post", "201") == {"$ref": "#/components/schemas/FeedbackAnswer"}
    assert schema_ref(doc, "/detect", "post") == {"$ref": "#/components/schemas/DetectAnswer"}
    reset = schema_ref(doc, "/sensitivity/{series_id}", "delete")
    assert reset == {"$ref": "#/components/schemas/Sensitivity"}
    series = doc["components"]["schemas"]["SeriesView"]["properties"]
    assert series["severity"]["enum"] == ["normal", "info", "warning", "critical"]
    assert RAW not in str(doc["paths"])  # the twins are the test's, not the document's


def test_the_models_change_nothing_in_any_state(wire: Wire) -> None:
    assert wire.every_route() == 0  # no cycle yet: not ready, nothing tracked
    wire.cycle({"orders": 0.02, "users": 0.02}, {"orders": 0.1, "users": 0.1})
    wire.every_route()
    for _ in range(3):
        wire.cycle({"orders": 0.9, "users": 0.02}, {"orders": 0.1, "users": 0.3})
    for v in steady(6, 0.02, 0.001, seed=5):
        wire.cycle({"orders": v, "users": 0.02}, {"orders": 0.1, "users": 0.3})
    assert wire.every_route() == 2  # one resolved, one active
    wire.prom.rejected["q_cpu"] = "bad_data: parse error"
    wire.prom.replicas = {"orders": (0, 1), "users": (2, 2)}
    for _ in range(2):
        wire.cycle({"users": 0.02}, {"users": 0.3})
    assert wire.every_route() == 3  # orders' latency went missing: a no_data anomaly
    wire.prom.down = True
    for _ in range(4):
        wire.cycle({}, {})
    wire.every_route()
    assert wire.same("/predict")["stale"] is True


def test_feedback_answer_is_the_stored_record(wire: Wire) -> None:
    wire.cycle({"orders": 0.02, "users": 0.02}, {"orders": 0.1, "users": 0.1})
    for _ in range(3):
        wire.cycle({"orders": 0.9, "users": 0.02}, {"orders": 0.1, "users": 0.1})
    (anomaly,) = wire.same("/anomalies")["items"]
    answer = wire.client.post(
        f"/anomalies/{anomaly['id']}/feedback",
        json={"label": "noise", "reason": "deploy noise", "mute_for_s": 60},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 201, answer.text
    body = FeedbackAnswer.model_validate(answer.json())
    assert body.sensitivity.muted is True
    # /feedback has no response model: the record as the service keeps it
    (stored,) = wire.client.get("/feedback").json()["items"]
    assert differences(answer.json()["feedback"], stored) == []
    detail = wire.same(f"/anomalies/{anomaly['id']}")
    assert differences(answer.json()["sensitivity"], detail["sensitivity"]) == []
    assert detail["feedback"] == "noise"
    assert wire.every_route() == 1  # /feedback, /feedback/precision, /sensitivity not empty now
    assert wire.same("/feedback/precision")["overall"] == {
        "confirmed": 0,
        "noise": 1,
        "precision": 0.0,
    }


def test_a_reset_answers_the_series_sensitivity(wire: Wire) -> None:
    wire.cycle({"orders": 0.02, "users": 0.02}, {"orders": 0.1, "users": 0.1})
    for _ in range(3):
        wire.cycle({"orders": 0.9, "users": 0.02}, {"orders": 0.1, "users": 0.1})
    (anomaly,) = wire.same("/anomalies")["items"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"label": "noise", "reason": "deploy noise"}
    wire.client.post(f"/anomalies/{anomaly['id']}/feedback", json=body, headers=auth)
    series_id = wire.same(f"/anomalies/{anomaly['id']}")["series_id"]
    answer = wire.client.delete(f"/sensitivity/{series_id}", headers=auth)
    assert answer.status_code == 200, answer.text
    assert Sensitivity.model_validate(answer.json()).factor == 1.0
    (listed,) = wire.same("/sensitivity")["items"]  # the label counts stay
    assert differences(answer.json(), listed) == []
    assert wire.client.delete("/sensitivity/nope", headers=auth).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"values": [1, 2, 3]},
        {"values": [0.02] * 40 + [0.9, 0.9, None, 0.02], "direction": "up", "floor": 0.5},
        {"values": [5.0] * 30 + [0.1] * 5, "direction": "down", "floor": 1},
        {"values": [None, 1.5, 2] * 20, "direction": "both", "floor": None},
    ],
)
def test_detect_answers_exactly_what_the_core_scored(wire: Wire, body: dict[str, Any]) -> None:
    add_raw_twins(wire.client.app, "POST")  # type: ignore[arg-type]
    typed, raw = (
        wire.client.post("/detect", json=body),
        wire.client.post(RAW + "/detect", json=body),
    )
    assert typed.status_code == raw.status_code == 200, typed.text
    assert differences(typed.json(), raw.json()) == []
    answer = DetectAnswer.model_validate(typed.json())
    assert answer.points == len(body["values"])
