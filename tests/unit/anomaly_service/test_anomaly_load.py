"""Load as a root cause: a latency anomaly that starts with the service's traffic above its band
is marked load-driven (anomaly, event, /predict) and stays so until it closes; a fault under
usual traffic is not."""

from __future__ import annotations

from anomaly_fakes import FakePrometheus, spec, steady
from test_anomaly_lifecycle import cycle, make

from anomaly_service.api.views import predict
from anomaly_service.load import LoadWatch, RateReading

RATE = "q_rate"


def test_a_reading_is_above_only_past_warm_up_with_a_value_over_the_band() -> None:
    assert RateReading("orders", 1.0, 40.0, 12.0).above
    assert not RateReading("orders", 1.0, 11.0, 12.0).above
    assert not RateReading("orders", 1.0, 40.0, 12.0, warming=True).above
    assert not RateReading("orders", 1.0, None, 12.0).above


def test_driven_looks_back_from_the_opening_and_forward_to_now() -> None:
    watch = LoadWatch(lookback_s=30.0)
    watch.observe([RateReading("orders", 100.0, 40.0, 12.0)])
    assert watch.driven("orders", "latency", "deviation", opened_at=120.0)  # 20 s before
    assert not watch.driven("orders", "latency", "deviation", opened_at=140.0)  # 40 s before
    assert not watch.driven("users", "latency", "deviation", opened_at=120.0)  # its own rate
    # load explains what it passes on, not CPU (its own signal) nor a missing series
    assert not watch.driven("orders", "cpu", "deviation", opened_at=120.0)
    assert not watch.driven("orders", "latency", "no_data", opened_at=120.0)
    watch.observe([RateReading("orders", 90.0, 40.0, 12.0)])  # an older reading: no step back
    assert watch.above_at["orders"] == 100.0


def rate_and_latency() -> tuple[FakePrometheus, list]:  # type: ignore[type-arg]
    prom = FakePrometheus()
    prom.history["q_latency"] = {"orders": steady(80, 0.05, 0.005)}
    prom.history[RATE] = {"orders": steady(80, 5.0, 0.5, seed=3)}
    specs = [spec(), spec("request_rate", RATE, direction="both", floor=None, unit="req/s",
                          min_spread=1.0)]  # fmt: skip
    return prom, specs


def test_a_latency_anomaly_that_starts_with_a_traffic_surge_is_load_driven_until_it_closes() -> (
    None
):
    prom, specs = rate_and_latency()
    engine, notes, clock = make(prom, *specs)
    prom.values = {"q_latency": {"orders": 0.05}, RATE: {"orders": 5.0}}
    cycle(engine, clock)
    prom.values = {"q_latency": {"orders": 3.0}, RATE: {"orders": 40.0}}
    opened = cycle(engine, clock) + cycle(engine, clock)
    latency = next(t.anomaly for t in opened if t.anomaly["metric"] == "latency")
    assert latency["caused_by_load"] is True
    fired = [
        p["alerts"][0] for p in notes.payloads if p["alerts"][0]["labels"]["metric"] == "latency"
    ]
    assert fired[0]["annotations"]["caused_by_load"] == "true"
    # the surge ends, the p99's window still counts slow requests: still the load's
    prom.values = {"q_latency": {"orders": 2.0}, RATE: {"orders": 5.0}}
    for _ in range(8):  # 40 s: past the look-back
        cycle(engine, clock)
    rows = {r["metric"]: r for r in predict(engine)["series"]}
    assert rows["latency"]["severity"] != "normal"
    assert rows["latency"]["caused_by_load"] is True
    assert rows["request_rate"]["caused_by_load"] is False


def test_a_latency_fault_under_usual_traffic_is_not_load_driven() -> None:
    prom, specs = rate_and_latency()
    engine, notes, clock = make(prom, *specs)
    prom.values = {"q_latency": {"orders": 3.0}, RATE: {"orders": 5.2}}
    opened = cycle(engine, clock) + cycle(engine, clock)
    latency = next(t.anomaly for t in opened if t.anomaly["metric"] == "latency")
    assert latency["caused_by_load"] is False
    assert all("caused_by_load" not in p["alerts"][0]["annotations"] for p in notes.payloads)
