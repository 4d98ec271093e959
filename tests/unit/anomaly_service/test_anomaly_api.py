"""HTTP contract of every endpoint (docs/contracts.md), with a scripted Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from anomaly_fakes import FakeClock, FakePrometheus, ListNotifier, spec, steady
from fastapi.testclient import TestClient

from anomaly_service.app import create_app
from anomaly_service.config import Settings
from anomaly_service.engine import Engine
from relia_contracts.catalog import parse_signals

PAGE_KEYS = {"items", "total", "limit", "offset"}
ANOMALY_KEYS = {
    "id",
    "peak_value",
    "fingerprint",
    "caused_by",
    "caused_by_seen",
    "root_causes",
    "cause_evidence",
    "caused_by_load",
    "service",
    "metric",
    "labels",
    "kind",
    "severity",
    "peak_severity",
    "status",
    "opened_at",
    "resolved_at",
    "value",
    "baseline",
    "lower",
    "upper",
    "unit",
    "summary",
    "interrupted",
    "feedback",
}
SERIES_KEYS = {
    "service",
    "metric",
    "labels",
    "value",
    "baseline",
    "lower",
    "upper",
    "score",
    "severity",
    "kind",
    "unit",
    "direction",
    "warming_up",
    "anomaly_id",
    "ts",
}


@dataclass
class Harness:
    client: TestClient
    prom: FakePrometheus
    clock: FakeClock
    notes: ListNotifier
    engine: Engine

    def cycle(
        self, latency: dict[str, float] | None = None, cpu: dict[str, float] | None = None
    ) -> None:
        if latency is not None:
            self.prom.values["q_latency"] = latency
        if cpu is not None:
            self.prom.values["q_cpu"] = cpu
        self.clock.tick(5.0)
        self.client.portal.call(self.engine.run_cycle)  # type: ignore[union-attr]


@pytest.fixture
def h() -> Iterator[Harness]:
    prom, clock, notes = FakePrometheus(), FakeClock(), ListNotifier()
    prom.history["q_latency"] = {
        s: steady(80, 0.02, 0.002, seed=i) for i, s in enumerate(["orders", "users"])
    }
    prom.history["q_cpu"] = {s: steady(80, 0.1, 0.005, seed=9) for s in ["orders", "users"]}
    prom.replicas = {"orders": (1, 1), "users": (2, 2)}
    catalog = [spec(), spec(name="cpu", query="q_cpu", unit="cores", floor=0.8)]
    settings = Settings(check_interval=5.0, policy_engine_url="")
    app = create_app(
        settings,
        prometheus_client_adapter=prom,
        notifier=notes,
        clock=clock,
        catalog=catalog,
        run_loop=False,
    )
    with TestClient(app) as client:
        harness = Harness(client, prom, clock, notes, app.state.engine)
        harness.cycle({"orders": 0.02, "users": 0.02}, {"orders": 0.1, "users": 0.1})
        yield harness


def incident(h: Harness) -> None:
    """orders latency goes critical (resolved later), users cpu warning (stays open)."""
    for _ in range(3):
        h.cycle({"orders": 0.9, "users": 0.02}, {"orders": 0.1, "users": 0.3})
    for v in steady(6, 0.02, 0.001, seed=5):
        h.cycle({"orders": v, "users": 0.02}, {"orders": 0.1, "users": 0.3})


def test_health_ready_and_metrics(h: Harness) -> None:
    assert h.client.get("/health").json() == {"status": "ok"}
    ready = h.client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    text = h.client.get("/metrics").text
    for name in (
        "relia_anomaly_cycle_duration_seconds",
        "relia_anomaly_series_tracked 4.0",
        "relia_anomaly_last_successful_cycle_timestamp_seconds",
        "relia_anomaly_active_anomalies",
        "relia_anomaly_event_deliveries_total",
    ):
        assert name in text


def test_predict_lists_every_series(h: Harness) -> None:
    body = h.client.get("/predict").json()
    assert body["ready"] is True
    assert body["cycle"] == 1
    assert body["generated_at"] == h.clock.now
    assert len(body["series"]) == 4
    first = body["series"][0]
    assert set(first) >= SERIES_KEYS
    assert first["severity"] == "normal"
    assert first["kind"] is None
    assert first["labels"] == {"service": first["service"]}
    assert first["warming_up"] is False


def test_anomalies_filters_paging_and_detail(h: Harness) -> None:
    incident(h)
    page = h.client.get("/anomalies").json()
    assert set(page) == PAGE_KEYS
    assert page["total"] == 2
    assert page["limit"] == 50
    assert all(set(a) == ANOMALY_KEYS for a in page["items"])
    newest_first = [a["opened_at"] for a in page["items"]]
    assert newest_first == sorted(newest_first, reverse=True)
    q = h.client.get
    assert [a["metric"] for a in q("/anomalies?service=orders").json()["items"]] == ["latency"]
    assert [a["service"] for a in q("/anomalies?metric=cpu").json()["items"]] == ["users"]
    assert q("/anomalies?status=resolved").json()["items"][0]["metric"] == "latency"
    assert q("/anomalies?status=active").json()["items"][0]["metric"] == "cpu"
    assert q("/anomalies?severity=critical").json()["total"] == 1
    assert q("/anomalies?severity=info").json()["total"] == 2
    # since: what overlaps [since, now]: the active one always, the resolved one until it ended.
    later = q(f"/anomalies?since={h.clock.now + 1}").json()["items"]
    assert [a["status"] for a in later] == ["active"]
    ended = q("/anomalies?status=resolved").json()["items"][0]["resolved_at"]
    assert q(f"/anomalies?since={ended}").json()["total"] == 2
    one = q("/anomalies?limit=1&offset=1").json()
    assert one["total"] == 2
    assert len(one["items"]) == 1
    assert one["offset"] == 1
    assert one["items"][0]["id"] == page["items"][1]["id"]
    unknown = q("/anomalies?metric=latencyy")
    assert unknown.status_code == 422
    assert "latency, cpu" in unknown.json()["detail"]
    for bad in (
        "limit=0",
        "limit=501",
        "offset=-1",
        "severity=huge",
        "status=open",
        "since=yesterday",
    ):
        assert q(f"/anomalies?{bad}").status_code == 422, bad
    resolved = q("/anomalies?metric=latency").json()["items"][0]
    detail = q(f"/anomalies/{resolved['id']}").json()
    ev = detail["evidence"]
    assert set(ev) == {"timestamps", "values", "baseline", "lower", "upper"}
    assert len(ev["timestamps"]) == len(ev["values"]) == len(ev["upper"]) >= 10
    assert 0.9 in ev["values"]
    i = ev["values"].index(0.9)
    assert ev["upper"][i] < 0.9  # the point sits outside its own band
    assert q("/anomalies/a-nope").status_code == 404


def test_services_health_rolls_up(h: Harness) -> None:
    incident(h)
    body = h.client.get("/services/health").json()
    by = {s["service"]: s for s in body["services"]}
    assert by["orders"]["status"] == "healthy"
    assert by["orders"]["open_anomalies"] == 0
    assert by["users"]["status"] == "degraded"
    assert by["users"]["open_anomalies"] == 1
    assert (by["users"]["replicas_up"], by["users"]["replicas_total"]) == (2, 2)
    assert by["users"]["signals"]["cpu"] == {
        "value": 0.3,
        "severity": "warning",
        "unit": "cores",
        "kind": "deviation",
    }


def test_no_data_service_and_prometheus_down(h: Harness) -> None:
    h.prom.replicas = {"orders": (0, 1), "users": (2, 2)}
    for _ in range(2):
        h.cycle({"users": 0.02}, {"users": 0.1})
    by = {s["service"]: s for s in h.client.get("/services/health").json()["services"]}
    assert by["orders"]["status"] == "no_data"
    assert by["orders"]["replicas_up"] == 0
    assert by["orders"]["signals"]["latency"]["value"] is None
    series = h.client.get("/predict").json()["series"]
    orders = [s for s in series if s["service"] == "orders"]
    assert {(s["kind"], s["severity"]) for s in orders} == {("no_data", "critical")}
    h.prom.down = True
    for _ in range(4):
        h.cycle()
    ready = h.client.get("/ready")
    assert ready.status_code == 503
    assert "connection refused" in ready.json()["reasons"][0]
    health = h.client.get("/services/health").json()
    assert health["ready"] is False
    assert health["stale"] is True
    assert {s["status"] for s in health["services"]} == {"unknown"}
    assert h.client.get("/predict").json()["ready"] is False


def test_models_and_stats_report_a_rejected_metric(h: Harness) -> None:
    h.prom.rejected["q_cpu"] = "bad_data: parse error: unexpected right parenthesis"
    h.cycle({"orders": 0.02, "users": 0.02})
    models = h.client.get("/models").json()
    assert models["detector"]["min_points"] >= 2
    assert models["detector"]["consensus"] is True
    cat = {m["name"]: m for m in models["catalog"]}
    assert "unexpected right parenthesis" in cat["cpu"]["error"]
    assert cat["latency"]["error"] is None
    assert cat["latency"]["series"] == 2
    # What consumers parse (the policy engine's vocabulary, the dashboard) is the shared model.
    signals = parse_signals(models["catalog"], "GET /models")
    assert [s.name for s in signals] == [m["name"] for m in models["catalog"]]
    schema = h.client.get("/openapi.json").json()
    answer = schema["paths"]["/models"]["get"]["responses"]["200"]["content"]
    assert answer["application/json"]["schema"] == {"$ref": "#/components/schemas/ModelsView"}
    entry = schema["components"]["schemas"]["CatalogEntry"]
    assert {"name", "unit", "query", "direction", "error"} <= set(entry["properties"])
    stats = h.client.get("/stats").json()
    assert stats["metric_errors"] == {"cpu": h.prom.rejected["q_cpu"]}
    assert stats["prometheus"]["reachable"] is True
    assert stats["series_tracked"] == 4
    ready = h.client.get("/ready")
    assert ready.status_code == 200
    assert "cpu" in ready.json()["metric_errors"]


def test_detect_classifies_a_sent_series(h: Harness) -> None:
    values: list[float | None] = [*steady(60, 10.0, 0.2), None, 30.0, 30.0, 30.0, 30.0]
    body = h.client.post("/detect", json={"values": values, "direction": "up", "floor": 20}).json()
    assert body["points"] == 65
    assert len(body["severity"]) == 65
    assert body["severity"][:60] == ["normal"] * 60
    assert body["max_severity"] == "critical"
    assert 63 in body["anomalous_indices"]
    assert body["baseline"][60] is not None
    assert body["warming"][0] is True
    down = h.client.post("/detect", json={"values": values, "direction": "down"}).json()
    assert down["anomalous_indices"] == []


@pytest.mark.parametrize(
    "payload",
    [
        {"values": []},
        {"values": [None, None]},
        {"values": ["1.0", 2.0]},
        {"values": [1.0, "abc"]},
        {"values": [True, 1.0]},
        {"values": "1,2,3"},
        {},
        {"values": [1.0, 2.0], "direction": "sideways"},
        {"values": [1.0, 2.0], "floor": "high"},
    ],
)
def test_detect_rejects_bad_input_with_422(h: Harness, payload: dict[str, object]) -> None:
    response = h.client.post("/detect", json=payload)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_detect_rejects_nan_only_and_infinite_values(h: Harness) -> None:
    raw = h.client.post(
        "/detect", content=b'{"values": [NaN, NaN]}', headers={"content-type": "application/json"}
    )
    assert raw.status_code == 422
    assert "no number" in raw.text
    inf = h.client.post(
        "/detect",
        content=b'{"values": [1.0, Infinity]}',
        headers={"content-type": "application/json"},
    )
    assert inf.status_code == 422
    assert "infinite" in inf.text


def test_the_detector_counts_one_check_interval_per_point() -> None:
    # the onset's consensus tier counts its expiry in time: one point per check
    settings = Settings(check_interval=2.0, policy_engine_url="")
    app = create_app(
        settings,
        prometheus_client_adapter=FakePrometheus(),
        notifier=ListNotifier(),
        clock=FakeClock(),
        catalog=[spec()],
        run_loop=False,
    )
    with TestClient(app) as client:
        assert client.get("/models").json()["detector"]["cycle_s"] == 2.0
    pinned = Settings(check_interval=2.0, policy_engine_url="", detector_config={"cycle_s": 7})
    app = create_app(
        pinned,
        prometheus_client_adapter=FakePrometheus(),
        notifier=ListNotifier(),
        clock=FakeClock(),
        catalog=[spec()],
        run_loop=False,
    )
    with TestClient(app) as client:
        assert client.get("/models").json()["detector"]["cycle_s"] == 7
