"""Load as a root cause: a latency anomaly that starts with the service's traffic and CPU above
their bands is marked load-driven (anomaly, event, /predict) and stays so until it closes; a
fault under usual traffic, or under more traffic that costs no CPU, is not."""

from __future__ import annotations

import pytest
from anomaly_fakes import FakePrometheus, spec, steady
from test_anomaly_lifecycle import cycle, make

from anomaly_service.api.views import predict
from anomaly_service.load import LoadWatch, Reading

RATE = "q_rate"
CPU = "q_cpu"


def rate(ts: float, value: float, service: str = "orders") -> Reading:
    return Reading(service, "request_rate", ts, value, 12.0)


def cpu(ts: float, value: float, service: str = "orders") -> Reading:
    return Reading(service, "cpu", ts, value, 0.2)


def test_a_reading_is_above_only_past_warm_up_with_a_value_over_the_band() -> None:
    assert rate(1.0, 40.0).above
    assert not rate(1.0, 11.0).above
    assert not Reading("orders", "request_rate", 1.0, 40.0, 12.0, warming=True).above
    assert not Reading("orders", "request_rate", 1.0, None, 12.0).above


def test_load_is_traffic_and_cpu_above_their_bands_in_the_same_cycle() -> None:
    watch = LoadWatch()
    watch.observe([rate(100.0, 40.0), cpu(100.0, 0.1)])  # more traffic, no more work
    watch.observe([rate(105.0, 5.0), cpu(105.0, 0.9)])  # a CPU fault, usual traffic
    watch.observe([rate(110.0, 40.0), cpu(110.0, 0.9, service="users")])  # another's CPU
    assert watch.above_at == {}
    watch.observe([rate(115.0, 40.0), cpu(115.0, 0.9)])
    assert watch.above_at == {"orders": 115.0}


def test_driven_looks_back_from_the_opening_and_holds_a_while_after_the_load() -> None:
    watch = LoadWatch(lookback_s=20.0, hold_s=30.0)
    watch.observe([rate(100.0, 40.0), cpu(100.0, 0.9)])
    assert watch.driven("orders", "latency", "deviation", opened_at=115.0, now=120.0)
    assert not watch.driven("orders", "latency", "deviation", opened_at=125.0, now=125.0)
    # opened during the load, but the load ended 31 s ago: what is left is not the load's
    assert watch.driven("orders", "latency", "deviation", opened_at=95.0, now=130.0)
    assert not watch.driven("orders", "latency", "deviation", opened_at=95.0, now=131.0)
    assert not watch.driven("users", "latency", "deviation", opened_at=100.0, now=100.0)
    # load explains what it passes on, not CPU (its own signal) nor a missing series
    assert not watch.driven("orders", "cpu", "deviation", opened_at=100.0, now=100.0)
    assert not watch.driven("orders", "latency", "no_data", opened_at=100.0, now=100.0)
    watch.observe([rate(90.0, 40.0), cpu(90.0, 0.9)])  # an older reading: no step back
    assert watch.above_at["orders"] == 100.0


def rate_and_latency() -> tuple[FakePrometheus, list]:  # type: ignore[type-arg]
    prom = FakePrometheus()
    prom.history["q_latency"] = {"orders": steady(80, 0.05, 0.005)}
    prom.history[RATE] = {"orders": steady(80, 5.0, 0.5, seed=3)}
    prom.history[CPU] = {"orders": steady(80, 0.03, 0.005, seed=4)}
    specs = [spec(), spec("request_rate", RATE, direction="both", floor=None, unit="req/s",
                          min_spread=1.0),
             spec("cpu", CPU, floor=0.8, unit="cores", min_spread=0.05)]  # fmt: skip
    return prom, specs


def test_a_latency_anomaly_from_a_surge_is_load_driven_until_the_load_is_long_gone() -> None:
    prom, specs = rate_and_latency()
    engine, notes, clock = make(prom, *specs)
    prom.values = {"q_latency": {"orders": 0.05}, RATE: {"orders": 5.0}, CPU: {"orders": 0.03}}
    cycle(engine, clock)
    prom.values = {"q_latency": {"orders": 3.0}, RATE: {"orders": 40.0}, CPU: {"orders": 0.4}}
    opened = cycle(engine, clock) + cycle(engine, clock)
    latency = next(t.anomaly for t in opened if t.anomaly["metric"] == "latency")
    assert latency["caused_by_load"] is True
    fired = [
        p["alerts"][0] for p in notes.payloads if p["alerts"][0]["labels"]["metric"] == "latency"
    ]
    assert fired[0]["annotations"]["caused_by_load"] == "true"
    # the surge ends, the p99's window still counts slow requests: still the load's
    prom.values = {"q_latency": {"orders": 2.0}, RATE: {"orders": 5.0}, CPU: {"orders": 0.03}}
    for _ in range(6):  # 30 s
        cycle(engine, clock)
    rows = {r["metric"]: r for r in predict(engine)["series"]}
    assert rows["latency"]["severity"] != "normal"
    assert rows["latency"]["caused_by_load"] is True
    assert rows["request_rate"]["caused_by_load"] is False
    # p99 still at 2 s more than half a minute after the load: not the load's any more
    cycle(engine, clock)
    rows = {r["metric"]: r for r in predict(engine)["series"]}
    assert rows["latency"]["severity"] != "normal"
    assert rows["latency"]["caused_by_load"] is False


@pytest.mark.parametrize("extra_rate", [0.2, 35.0])  # usual traffic; more traffic, no more CPU
def test_a_latency_fault_without_load_is_not_load_driven(extra_rate: float) -> None:
    prom, specs = rate_and_latency()
    engine, notes, clock = make(prom, *specs)
    prom.values = {
        "q_latency": {"orders": 3.0},
        RATE: {"orders": 5.0 + extra_rate},
        CPU: {"orders": 0.04},
    }
    opened = cycle(engine, clock) + cycle(engine, clock)
    latency = next(t.anomaly for t in opened if t.anomaly["metric"] == "latency")
    assert latency["caused_by_load"] is False
    assert all("caused_by_load" not in p["alerts"][0]["annotations"] for p in notes.payloads)


# ---- the host's load: slowdowns together on services with no call between them ---------------

CALLS = {("orders", "users"), ("orders", "payments")}


def p99(ts: float, value: float, service: str, upper: float = 0.2) -> Reading:
    return Reading(service, "latency", ts, value, upper)


def slow(watch: LoadWatch, ts: float, *services: str) -> None:
    """One cycle in which `services` have their p99 above the band and the others do not."""
    watch.edges = CALLS
    watch.observe(
        [p99(ts, 0.9 if s in services else 0.05, s) for s in ("orders", "users", "payments")]
    )


def test_slowdowns_together_on_unrelated_services_are_the_hosts() -> None:
    watch = LoadWatch(together_s=15.0, hold_s=30.0)
    slow(watch, 95.0, "users")
    slow(watch, 100.0, "users", "payments")
    assert watch.host_wide("payments", 100.0, now=100.0) == ["users"]
    assert watch.driven("payments", "latency", "deviation", opened_at=100.0, now=100.0)
    # users' own anomaly (opening at 100 too) has payments' slowdown beside it
    assert watch.driven("users", "latency", "deviation", opened_at=100.0, now=100.0)
    # latency only: a host slows services, it does not make them fail
    assert not watch.driven("users", "error_rate", "deviation", opened_at=100.0, now=100.0)


def test_a_peer_only_past_its_band_counts_not_only_a_peer_with_an_anomaly() -> None:
    """Seen in CI: a two-cycle hiccup took payments' p99 to 0.97 s (band top 0.2: an anomaly,
    then a restart) and users' to 0.24 s (band top 0.22: no anomaly until a cycle later)."""
    watch = LoadWatch()
    watch.edges = CALLS
    watch.observe([p99(575.0, 0.97, "payments"), p99(575.0, 0.236, "users", upper=0.215)])
    assert watch.driven("payments", "latency", "deviation", opened_at=578.0, now=578.0)


def test_a_caller_slowed_with_its_callee_is_no_host_sign() -> None:
    """orders calls users: the two slow together when users is at fault (attribution's case)."""
    watch = LoadWatch()
    slow(watch, 100.0, "users", "orders")
    assert watch.host_wide("orders", 100.0, now=100.0) == []
    assert not watch.driven("users", "latency", "deviation", opened_at=100.0, now=100.0)
    watch.edges = {("users", "orders")}  # the other direction rules the pair out as well
    assert watch.host_wide("orders", 100.0, now=100.0) == []


def test_slowdowns_far_apart_are_two_stories() -> None:
    watch = LoadWatch(together_s=15.0)
    slow(watch, 100.0, "users")
    slow(watch, 105.0, "users")
    slow(watch, 110.0)
    assert watch.host_wide("payments", 116.0, now=116.0) == []
    assert watch.host_wide("payments", 115.0, now=116.0) == ["users"]
    # a peer slow for long already when this slowdown starts is not "together" with it
    for ts in range(120, 200, 5):
        slow(watch, float(ts), "users")
    assert watch.slow_runs["users"] == (120.0, 195.0)
    assert watch.host_wide("payments", 195.0, now=195.0) == []


def test_a_peers_slowdown_counts_until_hold_s_after_it_ended() -> None:
    watch = LoadWatch(together_s=15.0, hold_s=30.0, run_gap_s=10.0)
    slow(watch, 100.0, "users", "payments")
    slow(watch, 105.0, "payments")
    slow(watch, 110.0, "users", "payments")  # one cycle back in the band: the same run
    assert watch.slow_runs["users"] == (100.0, 110.0)
    assert watch.driven("payments", "latency", "deviation", opened_at=100.0, now=140.0)
    assert not watch.driven("payments", "latency", "deviation", opened_at=100.0, now=141.0)


def test_one_service_is_not_its_own_peer() -> None:
    watch = LoadWatch()
    slow(watch, 100.0, "users")
    assert watch.host_wide("users", 100.0, now=100.0) == []


def test_the_engine_marks_two_unrelated_services_slowed_together_as_the_hosts() -> None:
    prom = FakePrometheus()
    prom.history["q_latency"] = {
        "users": steady(80, 0.05, 0.005),
        "payments": steady(80, 0.05, 0.005, seed=5),
    }
    engine, _, clock = make(prom, spec())
    prom.values = {"q_latency": {"users": 0.05, "payments": 0.05}}
    cycle(engine, clock)
    prom.values = {"q_latency": {"users": 3.0, "payments": 0.05}}
    users_alone = cycle(engine, clock) + cycle(engine, clock)
    assert [t.anomaly["caused_by_load"] for t in users_alone] == [False]
    prom.values = {"q_latency": {"users": 3.0, "payments": 2.5}}
    both = cycle(engine, clock) + cycle(engine, clock)
    assert [(t.anomaly["service"], t.anomaly["caused_by_load"]) for t in both] == [
        ("payments", True)
    ]
    rows = {r["service"]: r for r in predict(engine)["series"]}
    assert rows["users"]["caused_by_load"] is True
    assert rows["payments"]["caused_by_load"] is True


# ---- the host's load: a service starved of CPU -------------------------------------------------


def wait(ts: float, value: float, upper: float = 0.3, service: str = "orders") -> Reading:
    return Reading(service, "cpu_wait", ts, value, upper)


def test_a_slowdown_while_the_service_waits_for_a_cpu_is_the_hosts() -> None:
    watch = LoadWatch(starved_wait_s=0.5, lookback_s=20.0, hold_s=30.0)
    watch.observe([wait(100.0, 0.1), wait(100.0, 0.9, service="users")])
    assert watch.starved_at == {"users": 100.0}
    assert not watch.driven("orders", "latency", "deviation", opened_at=100.0, now=100.0)
    assert watch.driven("users", "latency", "deviation", opened_at=110.0, now=110.0)
    # a starved service is slow, not failing: its errors are its own
    assert not watch.driven("users", "error_rate", "deviation", opened_at=110.0, now=110.0)
    # the wait long gone, or only after the slowdown began: not the host's
    assert not watch.driven("users", "latency", "deviation", opened_at=110.0, now=131.0)
    assert not watch.driven("users", "latency", "deviation", opened_at=121.0, now=121.0)


def test_starved_is_a_wait_above_the_band_or_above_the_fixed_share() -> None:
    watch = LoadWatch(starved_wait_s=0.5)
    assert watch.starved(wait(1.0, 0.2, upper=0.1))  # far more than usual for this service
    assert watch.starved(wait(1.0, 0.6, upper=0.8))  # a wide band, but most of each second
    assert not watch.starved(wait(1.0, 0.45, upper=0.5))
    assert not watch.starved(Reading("orders", "cpu_wait", 1.0, None, 0.3))
    warming = Reading("orders", "cpu_wait", 1.0, 0.2, 0.1, warming=True)
    assert not watch.starved(warming)


@pytest.mark.parametrize(("cpu_wait", "host_s"), [(0.6, True), (0.02, False)])
def test_the_engine_reads_the_run_queue_wait_of_the_slowed_service(
    cpu_wait: float, host_s: bool
) -> None:
    prom = FakePrometheus()
    prom.history["q_latency"] = {"orders": steady(80, 0.05, 0.005)}
    prom.history["q_wait"] = {"orders": steady(80, 0.02, 0.005, seed=6)}
    wait_spec = spec("cpu_wait", "q_wait", floor=0.5, unit="s/s", min_spread=0.05)
    engine, _, clock = make(prom, spec(), wait_spec)
    prom.values = {"q_latency": {"orders": 0.05}, "q_wait": {"orders": 0.02}}
    cycle(engine, clock)
    prom.values = {"q_latency": {"orders": 3.0}, "q_wait": {"orders": cpu_wait}}
    opened = cycle(engine, clock) + cycle(engine, clock)
    latency = next(t.anomaly for t in opened if t.anomaly["metric"] == "latency")
    assert latency["caused_by_load"] is host_s


def test_a_service_burning_more_cpu_than_usual_is_not_starved_by_the_host() -> None:
    """Its own threads wait for the CPU it burns (the e2e CPU fault: 0.8 s/s)."""
    watch = LoadWatch()
    watch.observe([wait(100.0, 0.9), cpu(100.0, 0.9), wait(100.0, 0.9, service="users"),
                   cpu(100.0, 0.1, service="users")])  # fmt: skip
    assert watch.starved_at == {"users": 100.0}
