"""Prometheus stopped and started again (same port, same data) while real services serve
traffic: the return opens no anomaly and sends no event, although the rate windows and `up`
are empty for the first cycles. The counter-case: a service process stopped while Prometheus
runs still opens no_data as fast as before."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from anomaly_it_support import Load

from anomaly_service.catalog import MetricSpec, query_window_s
from anomaly_service.detector import DetectorConfig
from anomaly_service.engine import Engine
from anomaly_service.engine_state import EngineOptions
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.prometheus import PrometheusAdapter
from tests.support.procs import Proc, start_module
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = pytest.mark.prometheus

JOB = '{job="services"}'
# The shipped catalog's signals that went no_data on the stack, with windows scaled to this
# test's 1 s scrape (the stack: 15 s and 30 s at 5 s). The wait after a hole is derived from
# these windows, so short windows make a short test of the production rule.
CATALOG = [
    MetricSpec(
        "request_rate",
        f"sum by (service) (rate(http_server_request_duration_seconds_count{JOB}[4s]))",
        "req/s",
        "both",
        50.0,
        min_spread=2.0,
        min_value=0.0,
    ),
    MetricSpec(
        "cpu",
        f"avg by (service) (rate(process_cpu_seconds_total{JOB}[4s]))",
        "cores",
        "up",
        0.8,
        min_spread=0.05,
        min_value=0.0,
    ),
    MetricSpec(
        "memory",
        f"max by (service) (process_resident_memory_bytes{JOB})",
        "bytes",
        "up",
        400e6,
        min_spread=5e6,
        min_value=0.0,
    ),
    MetricSpec(
        "availability",
        f"avg by (service) (max_over_time(up{JOB}[6s]) and up{JOB})",
        "ratio",
        "down",
        0.99,
        min_spread=0.01,
        min_value=0.0,
        max_value=1.0,
    ),
]
SERVICES = ("users", "orders")
CHECK_S = 1.0
NO_DATA_CYCLES = 2
MAX_WINDOW = max(query_window_s(m.query) for m in CATALOG)


@dataclass
class Recorder:
    """The notifier the engine pushes events to: what would have been sent."""

    payloads: list[dict[str, Any]] = field(default_factory=list)

    def submit(self, payload: dict[str, Any]) -> bool:
        self.payloads.append(payload)
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def drain(self, timeout_s: float) -> bool:
        return True

    def stats(self) -> dict[str, Any]:
        return {}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[dict[str, Proc]]:
    env = {
        "CHAOS_ENABLED": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
    }
    procs: dict[str, Proc] = {}
    try:
        for name in SERVICES:  # two real processes (the users app), one per compose service
            procs[name] = start_module("services.users", tmp_path, env=env, timeout_s=60)
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


def gauge(engine: Engine, name: str, **labels: str) -> float:
    return engine.metrics.registry.get_sample_value(name, labels or None) or 0.0


def present(engine: Engine, warmed: bool = False) -> set[tuple[str, str]]:
    """(metric, service) of the series with a value this cycle (and `warmed`: judged)."""
    return {
        (s.spec.name, s.service)
        for s in engine.tracker.series.values()
        if s.missing_cycles == 0 and s.last is not None and not (warmed and s.last.warming)
    }


async def cycle(engine: Engine) -> None:
    started = time.monotonic()
    await engine.run_cycle()
    await asyncio.sleep(max(0.0, CHECK_S - (time.monotonic() - started)))


async def until_back(engine: Engine, everything: set[tuple[str, str]]) -> float:
    """Cycles until every series is back and no gap is left (bounded), then three more; the
    most series the no_data rule held meanwhile."""
    held_max = 0.0
    for _ in range(60):  # Prometheus' first scrapes come ~5 s after its start
        await cycle(engine)
        held_max = max(held_max, gauge(engine, "relia_anomaly_no_data_held_series"))
        if present(engine) == everything and not engine.scrapes.gaps:
            break
    for _ in range(3):
        await cycle(engine)
    return held_max


async def warm_up(engine: Engine, everything: set[tuple[str, str]]) -> None:
    for _ in range(60):  # every signal of both services judged
        await cycle(engine)
        if present(engine, warmed=True) == everything:
            break
    assert present(engine, warmed=True) == everything, present(engine, warmed=True)
    for _ in range(3):
        await cycle(engine)


async def prometheus_down_and_back(
    prom: PrometheusServer, engine: Engine, notes: Recorder, everything: set[tuple[str, str]]
) -> None:
    """Prometheus stops for longer than the longest window, then starts on the same port and
    data directory."""
    opened, sent = engine.tracker.opened_total, len(notes.payloads)
    await asyncio.to_thread(prom.stop)
    for _ in range(int(MAX_WINDOW) + 3):
        await cycle(engine)
    assert not engine.state.prometheus_ok
    assert not engine.fresh()
    await asyncio.to_thread(prom.start)
    back, back_ts = time.monotonic(), time.time()
    held_max = await until_back(engine, everything)
    returned_s = time.monotonic() - back
    assert present(engine) == everything, present(engine)
    active = [a.to_dict() for a in engine.tracker.all_anomalies() if a.opened_at > back_ts]
    assert engine.tracker.opened_total == opened, active
    assert len(notes.payloads) == sent, notes.payloads[sent:]
    assert gauge(engine, "relia_anomaly_scrape_gaps_total", cause="prometheus_down") == 1
    # The return really had the empty windows the rule waits out.
    assert held_max > 0, "no series went missing after the restart"
    print(f"return quiet after {returned_s:.1f}s; up to {held_max:.0f} series held")


async def quick_restart(
    prom: PrometheusServer, engine: Engine, notes: Recorder, everything: set[tuple[str, str]]
) -> None:
    """A quick restart between two cycles: no cycle sees Prometheus down, its start time
    tells the hole (it then scrapes nothing for ~5 s, and the 4 s windows empty)."""
    opened, sent = engine.tracker.opened_total, len(notes.payloads)
    await asyncio.to_thread(prom.stop)
    await asyncio.to_thread(prom.start)
    held_max = await until_back(engine, everything)
    assert engine.state.prometheus_ok
    assert present(engine) == everything, present(engine)
    assert held_max > 0, "no series went missing after the quick restart"
    assert gauge(engine, "relia_anomaly_scrape_gaps_total", cause="prometheus_restart") == 1
    assert engine.tracker.opened_total == opened
    assert len(notes.payloads) == sent


async def stopped_service(engine: Engine, services: dict[str, Proc]) -> None:
    """Counter-case: the orders process stops while Prometheus keeps scraping it."""
    services["orders"].stop()
    stopped = time.monotonic()
    no_data: dict[str, float] = {}
    for _ in range(40):
        await cycle(engine)
        for a in engine.tracker.active.values():
            if a.kind == "no_data" and a.service == "orders":
                no_data.setdefault(a.metric, time.monotonic() - stopped)
        if {"request_rate", "cpu", "memory"} <= set(no_data):
            break
    assert {"request_rate", "cpu", "memory"} <= set(no_data), no_data
    # As fast as before the rule: the window empties, then NO_DATA_CYCLES cycles (+ one
    # scrape and one cycle of phase, + slack for a loaded machine).
    bound = MAX_WINDOW + (NO_DATA_CYCLES + 2) * CHECK_S + 3.0
    assert max(no_data.values()) <= bound, (no_data, bound)
    assert not any(a.service == "users" for a in engine.tracker.active.values())
    print(f"orders no_data after {no_data}")


async def scenario(prom: PrometheusServer, services: dict[str, Proc]) -> None:
    source = PrometheusAdapter(prom.url, timeout_s=2.0)
    notes = Recorder()
    engine = Engine(
        CATALOG,
        source,
        notes,
        time.time,
        EngineOptions(check_interval=CHECK_S, backfill_window_s=0, no_data_cycles=NO_DATA_CYCLES),
        ServiceMetrics(),
        DetectorConfig(min_points=10),
    )
    everything = {(m.name, s) for m in CATALOG for s in SERVICES}
    try:
        await warm_up(engine, everything)
        await prometheus_down_and_back(prom, engine, notes, everything)
        await quick_restart(prom, engine, notes, everything)
        await stopped_service(engine, services)
    finally:
        await source.aclose()


def test_prometheus_restart_is_quiet_and_a_stopped_service_is_still_no_data(
    tmp_path: Path, services: dict[str, Proc]
) -> None:
    targets = [
        ScrapeTarget("services", f"127.0.0.1:{proc.port}", {"service": name})
        for name, proc in services.items()
    ]
    prom = PrometheusServer(tmp_path, targets, scrape_interval="1s").start()
    try:
        prom.wait_for_targets_up(len(targets), timeout_s=60)
        with Load([proc.url + "/users" for proc in services.values()], max_seconds=180):
            asyncio.run(asyncio.wait_for(scenario(prom, services), timeout=240))
    finally:
        prom.stop()
