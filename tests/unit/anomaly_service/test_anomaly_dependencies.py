"""Attribution inside the cycle, with a scripted Prometheus: the victim's anomaly, its event and
/predict name the culprit; the culprit and a caller's own fault name nobody."""

from __future__ import annotations

from anomaly_fakes import FakePrometheus, spec, steady
from test_anomaly_lifecycle import cycle, make

from anomaly_service.api.views import predict
from anomaly_service.catalog import MetricSpec
from anomaly_service.dependencies import CALLS, FAILURES, TIMEOUTS
from anomaly_service.prometheus import Sample

ERRORS = "q_errors"


def errors_prom() -> FakePrometheus:
    prom = FakePrometheus()
    prom.history[ERRORS] = {
        "orders": steady(80, 0.0005, 0.0005),
        "payments": steady(80, 0.0005, 0.0005, seed=2),
    }
    return prom


def edge(caller: str, callee: str, value: float) -> Sample:
    return Sample({"service": caller, "peer_service": callee}, value)


def error_spec() -> MetricSpec:
    return spec("error_rate", ERRORS, floor=0.05, unit="ratio", min_spread=0.001)


def test_payments_errors_make_orders_a_victim_in_anomaly_event_and_predict() -> None:
    prom = errors_prom()
    engine, notes, clock = make(prom, error_spec())
    prom.labelled[CALLS] = [edge("orders", "payments", 6.0), edge("orders", "users", 6.0)]
    for _ in range(3):
        prom.values[ERRORS] = {"orders": 0.0005, "payments": 0.0005}
        cycle(engine, clock)
    assert engine.dependencies.graph.edges() == {("orders", "payments"), ("orders", "users")}

    prom.labelled[FAILURES] = [edge("orders", "payments", 3.6)]
    prom.values[ERRORS] = {"orders": 0.6, "payments": 0.6}
    opened = cycle(engine, clock) + cycle(engine, clock)
    by_service = {t.anomaly["service"]: t.anomaly for t in opened if t.reason == "open"}
    assert by_service["orders"]["caused_by"] == ["payments"]
    assert by_service["orders"]["root_causes"] == ["payments"]
    (evidence,) = by_service["orders"]["cause_evidence"]
    assert evidence["signal"] == "edge_failures"
    assert abs(evidence["value"] - 0.6) < 1e-9
    assert by_service["payments"]["caused_by"] == []

    fired = {p["alerts"][0]["labels"]["service"]: p["alerts"][0] for p in notes.payloads}
    assert fired["orders"]["annotations"]["caused_by"] == "payments"
    assert "edge_failures=0.6" in fired["orders"]["annotations"]["cause"]
    assert "caused_by" not in fired["payments"]["annotations"]

    rows = {r["service"]: r for r in predict(engine)["series"]}
    assert rows["orders"]["caused_by"] == ["payments"]
    assert rows["payments"]["caused_by"] == []


def test_a_callers_own_errors_are_its_own() -> None:
    prom = errors_prom()
    engine, notes, clock = make(prom, error_spec())
    prom.labelled[CALLS] = [edge("orders", "payments", 6.0)]
    prom.values[ERRORS] = {"orders": 0.0005, "payments": 0.0005}
    cycle(engine, clock)
    prom.values[ERRORS] = {"orders": 0.6, "payments": 0.0005}
    opened = cycle(engine, clock) + cycle(engine, clock)
    (orders,) = [t.anomaly for t in opened if t.reason == "open"]
    assert orders["service"] == "orders"
    assert orders["caused_by"] == []
    assert "caused_by" not in notes.payloads[-1]["alerts"][0]["annotations"]


def test_the_cause_follows_the_evidence_while_the_anomaly_is_open() -> None:
    """Open as a root, a victim once the edge shows the callee timing out, a root again after."""
    prom = errors_prom()
    engine, _, clock = make(prom, error_spec())
    prom.labelled[CALLS] = [edge("orders", "users", 4.0)]
    prom.values[ERRORS] = {"orders": 0.6, "payments": 0.0005}
    cycle(engine, clock)
    cycle(engine, clock)
    (anomaly,) = engine.tracker.active.values()
    assert anomaly.cause is None
    prom.labelled[TIMEOUTS] = [edge("orders", "users", 2.0)]
    cycle(engine, clock)
    assert anomaly.cause_fields()["caused_by"] == ["users"]
    prom.labelled[TIMEOUTS] = []
    cycle(engine, clock)
    assert anomaly.cause is None
    # the policies read `caused_by` (now); a post-mortem reads what it was blamed on while open
    fields = anomaly.cause_fields()
    assert (fields["caused_by"], fields["caused_by_seen"]) == ([], ["users"])
    prom.labelled[TIMEOUTS] = [edge("orders", "users", 2.0)]
    cycle(engine, clock)
    assert anomaly.cause_fields()["caused_by_seen"] == ["users"]  # once, however often


def test_rejected_edge_queries_are_reported_and_detection_goes_on() -> None:
    prom = errors_prom()
    prom.rejected[CALLS] = "unknown metric (fake)"
    engine, _, clock = make(prom, error_spec())
    prom.values[ERRORS] = {"orders": 0.6, "payments": 0.0005}
    opened = cycle(engine, clock) + cycle(engine, clock)
    assert [t.anomaly["service"] for t in opened] == ["orders"]
    assert engine.dependencies.error == "unknown metric (fake)"
    assert engine.state.prometheus_ok
