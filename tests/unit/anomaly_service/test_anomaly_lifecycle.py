"""The cycle and anomaly lifecycle with a scripted Prometheus: open, escalate, resolve, no_data."""

from __future__ import annotations

import asyncio
from typing import Any

from anomaly_fakes import FakeClock, FakePrometheus, ListNotifier, spec, steady

from anomaly_service.catalog import MetricSpec, clip_band
from anomaly_service.detector import DetectorConfig
from anomaly_service.engine import Engine
from anomaly_service.engine_state import EngineOptions
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.records import Evidence, Transition, thaw


def make(
    prom: FakePrometheus, *specs_: MetricSpec, **opts: Any
) -> tuple[Engine, ListNotifier, FakeClock]:
    clock, notes = FakeClock(), ListNotifier()
    catalog = list(specs_) or [spec()]
    engine = Engine(
        catalog,
        prom,
        notes,
        clock,
        EngineOptions(**opts),
        ServiceMetrics(),
        DetectorConfig(),
    )
    return engine, notes, clock


def cycle(engine: Engine, clock: FakeClock) -> list[Transition]:
    clock.tick(5.0)
    return asyncio.run(engine.run_cycle())


def feed(
    engine: Engine,
    clock: FakeClock,
    prom: FakePrometheus,
    query: str,
    values: list[float],
    service: str = "orders",
) -> list[Transition]:
    out: list[Transition] = []
    for v in values:
        prom.values[query] = {service: v}
        out.extend(cycle(engine, clock))
    return out


def warm_prom() -> FakePrometheus:
    prom = FakePrometheus()
    prom.history["q_latency"] = {"orders": steady(80, 0.02, 0.002)}
    return prom


def test_backfill_makes_the_first_cycle_judge() -> None:
    prom = warm_prom()
    engine, _, clock = make(prom)
    feed(engine, clock, prom, "q_latency", [0.021])
    state = next(iter(engine.tracker.series.values()))
    assert engine.state.backfilled
    assert engine.state.backfill_points == 80
    assert state.last is not None
    assert not state.last.warming
    assert abs(state.last.baseline - 0.02) < 0.003


def test_open_escalate_resolve_with_one_stable_id() -> None:
    prom = warm_prom()
    engine, notes, clock = make(prom)
    assert feed(engine, clock, prom, "q_latency", steady(5, 0.02, 0.002, seed=2)) == []
    # Below the 0.5 s floor: statistical deviation only, so at most warning.
    opened = feed(engine, clock, prom, "q_latency", [0.2, 0.2, 0.2])
    assert [t.reason for t in opened] == ["open"]
    first = opened[0].anomaly
    assert first["severity"] == "warning"
    assert first["kind"] == "deviation"
    # Above the floor: deviation AND impact -> critical, same anomaly re-sent as firing.
    escalated = feed(engine, clock, prom, "q_latency", [0.9, 0.9, 0.9])
    assert [t.reason for t in escalated] == ["escalate"]
    assert escalated[0].anomaly["id"] == first["id"]
    assert escalated[0].anomaly["fingerprint"] == first["fingerprint"]
    assert escalated[0].anomaly["severity"] == "critical"
    # A sustained fault stays visible: the baseline did not learn it.
    assert feed(engine, clock, prom, "q_latency", [0.9] * 20) == []
    assert engine.tracker.get(first["id"]).status == "active"  # type: ignore[union-attr]
    # Recovery resolves it and is never an anomaly itself.
    back = feed(engine, clock, prom, "q_latency", steady(10, 0.02, 0.002, seed=3))
    assert [t.reason for t in back] == ["resolve"]
    resolved = back[0].anomaly
    assert resolved["id"] == first["id"]
    assert resolved["status"] == "resolved"
    assert resolved["peak_severity"] == "critical"
    assert resolved["resolved_at"] is not None
    # The resolve tells the incident's worst point, not the (normal) value it closed on.
    assert resolved["peak_value"] == 0.9
    assert "back to" in resolved["summary"]
    assert "worst 0.9 seconds" in resolved["summary"]
    statuses = [(p["status"], p["alerts"][0]["labels"]["severity"]) for p in notes.payloads]
    assert statuses == [("firing", "warning"), ("firing", "critical"), ("resolved", "critical")]
    assert engine.tracker.active == {}


def test_a_vanished_series_is_no_data_never_healthy_and_ends_when_it_returns() -> None:
    prom = warm_prom()
    engine, notes, clock = make(prom, no_data_cycles=2)
    feed(engine, clock, prom, "q_latency", [0.02, 0.021])
    prom.values["q_latency"] = {}
    assert cycle(engine, clock) == []  # one missing cycle is tolerated
    (opened,) = cycle(engine, clock)
    a = opened.anomaly
    assert (a["kind"], a["severity"], a["value"], opened.reason) == (
        "no_data",
        "critical",
        None,
        "open",
    )
    assert cycle(engine, clock) == []  # opened once, not per cycle
    (back,) = feed(engine, clock, prom, "q_latency", [0.02])
    assert back.reason == "resolve"
    assert back.anomaly["id"] == a["id"]
    assert [p["alerts"][0]["labels"]["kind"] for p in notes.payloads] == ["no_data", "no_data"]


def test_on_missing_ignore_does_not_open_no_data() -> None:
    prom = warm_prom()
    engine, notes, clock = make(prom, spec(on_missing="ignore"))
    feed(engine, clock, prom, "q_latency", [0.02])
    prom.values["q_latency"] = {}
    for _ in range(4):
        assert cycle(engine, clock) == []
    assert notes.payloads == []


def test_prometheus_down_is_unknown_not_missing_not_resolved() -> None:
    prom = warm_prom()
    engine, notes, clock = make(prom)
    feed(engine, clock, prom, "q_latency", [0.02] + [0.9] * 3)
    assert len(engine.tracker.active) == 1
    prom.down = True
    for _ in range(5):
        assert cycle(engine, clock) == []
    assert not engine.fresh()
    assert engine.state.prometheus_ok is False
    assert "connection refused" in (engine.state.prometheus_error or "")
    # Nothing resolved, no no_data invented from our own blindness.
    assert len(engine.tracker.active) == 1
    assert len(notes.payloads) == 1
    prom.down = False
    feed(engine, clock, prom, "q_latency", [0.9])
    assert engine.fresh()


def test_rejected_query_is_reported_per_metric_and_others_keep_working() -> None:
    prom = warm_prom()
    bad = spec(name="broken", query="sum by (service) (rate(x[5m])")
    engine, _, clock = make(prom, spec(), bad)
    prom.rejected[bad.query] = "bad_data: 1:33: parse error: unclosed left parenthesis"
    feed(engine, clock, prom, "q_latency", [0.02, 0.9, 0.9])
    assert engine.status["broken"].error is not None
    assert "unclosed left parenthesis" in engine.status["broken"].error
    assert engine.status["latency"].error is None
    assert engine.status["latency"].series == 1
    assert engine.fresh()
    assert len(engine.tracker.active) == 1


def test_non_finite_values_are_skipped_not_learned_and_not_missing() -> None:
    prom = warm_prom()
    engine, notes, clock = make(prom)
    feed(engine, clock, prom, "q_latency", [0.02])
    before = next(iter(engine.tracker.series.values())).last
    feed(engine, clock, prom, "q_latency", [float("nan"), float("inf"), float("nan")])
    state = next(iter(engine.tracker.series.values()))
    assert state.last is before
    assert state.missing_cycles == 0
    assert engine.status["latency"].skipped == 1
    assert notes.payloads == []


def test_history_is_bounded() -> None:
    prom = warm_prom()
    engine, _, clock = make(prom, history_size=2, no_data_cycles=1)
    ids = []
    for _ in range(4):
        prom.values["q_latency"] = {}
        ids.append(cycle(engine, clock)[0].anomaly["id"])
        feed(engine, clock, prom, "q_latency", [0.02])
    assert list(engine.tracker.resolved) == ids[-2:]
    assert engine.tracker.get(ids[0]) is None


def test_replicas_come_from_the_up_selector() -> None:
    prom = warm_prom()
    prom.replicas = {"orders": (2, 3)}
    engine, _, clock = make(prom)
    feed(engine, clock, prom, "q_latency", [0.02])
    assert engine.state.replicas == {"orders": (2, 3)}
    assert any('up{job="services"}' in c for c in prom.calls)


def test_a_cycle_that_reads_no_new_scrape_feeds_the_detector_nothing() -> None:
    """Cycles and scrapes both run every 5 s with no common phase: two cycles reading one
    abnormal scrape must not count as the two abnormal points that open an anomaly.
    (0.3 s: far above the band but under the 0.5 s floor, so warning, which needs two points;
    a critical point opens at once.)"""
    prom = warm_prom()
    engine, notes, clock = make(prom)
    prom.scraped_at = {"orders": 100.0}
    feed(engine, clock, prom, "q_latency", [0.02])
    prom.scraped_at = {"orders": 105.0}
    state = next(iter(engine.tracker.series.values()))
    assert feed(engine, clock, prom, "q_latency", [0.3]) == []
    first_read = state.last
    # Same scrape read again: not a second point, and the series is not missing either.
    assert feed(engine, clock, prom, "q_latency", [0.3]) == []
    assert state.last is first_read
    assert state.missing_cycles == 0
    assert (
        engine.metrics.registry.get_sample_value("relia_anomaly_repeated_scrape_reads_total") == 1
    )
    assert engine.tracker.active == {}
    assert notes.payloads == []
    prom.scraped_at = {"orders": 110.0}
    (opened,) = feed(engine, clock, prom, "q_latency", [0.3])
    assert opened.reason == "open"
    # Every query of a cycle is evaluated at the cycle's time, so the scrape time read by one
    # query describes the samples the others read.
    assert set(prom.times[-4:]) == {clock.now}


def test_services_without_scrape_times_are_fed_every_cycle() -> None:
    prom = warm_prom()
    engine, _, clock = make(prom)
    prom.scraped_at = {"users": 100.0}  # orders has no scrape time (a catalog on another job)
    feed(engine, clock, prom, "q_latency", [0.02])
    opened = feed(engine, clock, prom, "q_latency", [0.9, 0.9])
    assert [t.reason for t in opened] == ["open"]


def test_series_absent_past_the_ttl_is_forgotten_and_its_no_data_closed() -> None:
    prom = warm_prom()
    engine, notes, clock = make(prom, no_data_cycles=1, series_ttl_s=12.0)
    feed(engine, clock, prom, "q_latency", [0.02])
    prom.values["q_latency"] = {}
    (opened,) = cycle(engine, clock)
    assert cycle(engine, clock) == []  # 10 s absent: still kept
    (closed,) = cycle(engine, clock)  # 15 s > 12 s
    assert closed.reason == "resolve"
    assert closed.anomaly["id"] == opened.anomaly["id"]
    assert "expired" in closed.anomaly["summary"]
    assert [p["status"] for p in notes.payloads] == ["firing", "resolved"]
    assert engine.tracker.series == {}
    assert len(engine.bank) == 0
    # It comes back later: a fresh series, learning again from scratch.
    feed(engine, clock, prom, "q_latency", [0.02])
    state = next(iter(engine.tracker.series.values()))
    assert state.last is not None
    assert state.last.warming


def test_backfill_retries_after_prometheus_was_down_at_start() -> None:
    prom = warm_prom()
    prom.down = True
    engine, _, clock = make(prom)
    assert cycle(engine, clock) == []
    assert not engine.state.backfilled
    prom.down = False
    feed(engine, clock, prom, "q_latency", [0.02])
    assert engine.state.backfilled
    assert engine.state.backfill_points == 80
    state = next(iter(engine.tracker.series.values()))
    assert state.last is not None
    assert not state.last.warming


def test_evidence_ring_keeps_the_newest_points_in_order() -> None:
    ev = Evidence(4)
    for t in range(6):
        ev.add(float(t), None if t == 4 else t * 10.0, 1.0, 0.0, 2.0)
    out = ev.as_dict()
    assert out["timestamps"] == [2.0, 3.0, 4.0, 5.0]
    assert out["values"] == [20.0, 30.0, None, 50.0]
    assert thaw(ev.freeze()) == out
    assert len(ev) == 4


def test_band_is_clipped_to_the_range_the_signal_can_take() -> None:
    ratio = MetricSpec("error_rate", "q", "ratio", "up", 0.05, min_value=0.0, max_value=1.0)
    assert clip_band(-0.2, 1.4, ratio) == (0.0, 1.0)
    assert clip_band(0.1, 0.3, ratio) == (0.1, 0.3)
    unbounded = MetricSpec("x", "q", "", "both", None)
    assert clip_band(-5.0, 5.0, unbounded) == (-5.0, 5.0)
