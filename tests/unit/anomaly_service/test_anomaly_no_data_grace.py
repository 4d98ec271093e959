"""No false no_data after a hole in the scrapes (Prometheus down or restarted, the engine's own
start, a new target): no_data waits until the query windows are whole again, derived from the
catalog queries; a real outage still opens it in NO_DATA_CYCLES cycles. And samples older than
a series' last point are skipped and counted, never fed."""

from __future__ import annotations

import asyncio
import math

from anomaly_fakes import FakeClock, FakePrometheus, ListNotifier, spec

from anomaly_service.catalog import load_catalog, query_window_s
from anomaly_service.config import DEFAULT_CATALOG
from anomaly_service.detector import DetectorConfig
from anomaly_service.engine import Engine
from anomaly_service.engine_state import EngineOptions
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.records import Transition

RATE = "sum by (service) (rate(requests_total[15s]))"  # a 15 s window
LEVEL = "max by (service) (level)"  # no window: an instant selector


def make(prom: FakePrometheus, *queries: str) -> tuple[Engine, ListNotifier, FakeClock]:
    clock, notes = FakeClock(), ListNotifier()
    catalog = [spec(name=f"m{i}", query=q) for i, q in enumerate(queries or (RATE,))]
    engine = Engine(
        catalog,
        prom,
        notes,
        clock,
        EngineOptions(backfill_window_s=0, no_data_cycles=2),
        ServiceMetrics(),
        DetectorConfig(),
    )
    return engine, notes, clock


def cycle(
    engine: Engine,
    clock: FakeClock,
    prom: FakePrometheus,
    value: float | None = None,
    scraped: bool = True,
    query: str = RATE,
) -> list[Transition]:
    """One 5 s cycle; `scraped`: each service got a new scrape 1 s before it."""
    clock.tick(5.0)
    if scraped:
        prom.scraped_at = {s: clock.now - 1.0 for s in prom.scraped_at}
    prom.values[query] = {} if value is None else {"orders": value}
    return asyncio.run(engine.run_cycle())


def sample(engine: Engine, name: str, **labels: str) -> float:
    value = engine.metrics.registry.get_sample_value(name, labels or None)
    return 0.0 if value is None else value


def running(*queries: str) -> tuple[Engine, ListNotifier, FakeClock, FakePrometheus]:
    """An engine past its start: orders scraped every cycle, its series known."""
    prom = FakePrometheus(scraped_at={"orders": 0.0})
    engine, notes, clock = make(prom, *queries)
    for _ in range(6):  # 30 s: past the engine-start gap (resume + the 15 s window)
        assert cycle(engine, clock, prom, 10.0) == []
    assert engine.scrapes.gaps == {}
    return engine, notes, clock, prom


def test_query_window_comes_from_the_catalog_queries() -> None:
    windows = {m.name: query_window_s(m.query) for m in load_catalog(DEFAULT_CATALOG)}
    assert windows == {
        "latency": 30.0,  # its slow-request count reads the counters 15 s back (offset)
        "error_rate": 30.0,  # its 5xx count reads the counters 15 s back, as latency
        "cpu": 15.0,
        "memory": 0.0,
        "request_rate": 15.0,
        "availability": 30.0,
        "cpu_wait": 15.0,
        "probe_success": 0.0,  # instant vectors: the newest probe
        "probe_unanswered": 0.0,
    }
    # A subquery's steps each read the inner range; an offset moves the window back.
    assert query_window_s("max_over_time(rate(x[5m])[30m:1m])") == 35 * 60
    assert query_window_s("rate(x[1m30s] offset 1h)") == 90 + 3600
    assert query_window_s("x[500ms]") == 0.5


def test_prometheus_down_and_back_opens_no_no_data_while_its_windows_refill() -> None:
    engine, notes, clock, prom = running()
    prom.down = True
    for _ in range(12):  # 60 s unreachable: unknown, nothing happens
        assert cycle(engine, clock, prom, scraped=False) == []
    prom.down = False
    # Back, but not scraping yet (Prometheus 2.x waits ~5 s): old scrape times, empty windows.
    for _ in range(2):
        assert cycle(engine, clock, prom, None, scraped=False) == []
    # Scraping again; the 15 s rate window has too few samples for three cycles.
    for _ in range(3):
        assert cycle(engine, clock, prom, None) == []
    assert sample(engine, "relia_anomaly_no_data_held_series") == 1
    for _ in range(5):
        assert cycle(engine, clock, prom, 10.0) == []
    assert notes.payloads == []
    assert engine.tracker.active == {}
    assert sample(engine, "relia_anomaly_scrape_gaps_total", cause="prometheus_down") == 1
    assert sample(engine, "relia_anomaly_no_data_held_series") == 0


def test_series_still_absent_once_the_window_is_whole_opens_no_data() -> None:
    engine, notes, clock, prom = running()
    prom.down = True
    cycle(engine, clock, prom, scraped=False)
    prom.down = False
    # Answering again, Prometheus' newest scrape may be from before the hole: the scrapes
    # count as resumed at the next newer one, 1 s before the second cycle.
    resumed = clock.now + 10.0 - 1.0
    opened = []
    for _ in range(10):
        opened += [(clock.now, t) for t in cycle(engine, clock, prom, None)]
    # Held until then and while the 15 s window still reaches before the resume (cycles 1, 6
    # and 11 s after it), then NO_DATA_CYCLES (2) counted cycles: 16 s and 21 s after.
    assert [(at - resumed, t.anomaly["kind"]) for at, t in opened] == [(21.0, "no_data")]
    assert len(notes.payloads) == 1


def test_a_real_outage_while_prometheus_runs_opens_no_data_as_before() -> None:
    engine, _notes, clock, prom = running(RATE, LEVEL)
    prom.values[LEVEL] = {"orders": 1.0}
    assert cycle(engine, clock, prom, None) == []  # scrapes go on, the series are gone
    opened = cycle(engine, clock, prom, None)
    assert sorted(t.anomaly["metric"] for t in opened) == ["m0"]  # LEVEL is still there
    assert opened[0].anomaly["kind"] == "no_data"
    assert sample(engine, "relia_anomaly_no_data_held_series") == 0


def test_a_restart_no_cycle_saw_is_told_by_prometheus_start_time() -> None:
    prom = FakePrometheus(scraped_at={"orders": 0.0}, started="2026-11-30T09:00:00Z")
    engine, notes, clock = make(prom)
    for _ in range(6):
        cycle(engine, clock, prom, 10.0)
    # Restarted between two cycles: answering again at once, old scrape times, empty window.
    prom.started = "2026-11-30T09:10:00Z"
    assert cycle(engine, clock, prom, None, scraped=False) == []
    assert cycle(engine, clock, prom, None, scraped=False) == []
    assert cycle(engine, clock, prom, None) == []
    assert notes.payloads == []
    assert sample(engine, "relia_anomaly_scrape_gaps_total", cause="prometheus_restart") == 1
    # Without the start time (another PromQL server), two cycles without a scrape are a real
    # absence only while scrapes are not overdue: the second is, and tells the same hole.
    prom2 = FakePrometheus(scraped_at={"orders": 0.0})
    engine2, notes2, clock2 = make(prom2)
    for _ in range(6):
        cycle(engine2, clock2, prom2, 10.0)
    for _ in range(2):
        assert cycle(engine2, clock2, prom2, None, scraped=False) == []
    assert cycle(engine2, clock2, prom2, None) == []
    assert notes2.payloads == []
    assert sample(engine2, "relia_anomaly_scrape_gaps_total", cause="scrapes_stalled") == 1


def test_a_new_target_holds_its_service_until_its_window_is_whole() -> None:
    engine, notes, clock, prom = running()
    # A second replica appears; the rate series blinks out while the windows settle.
    prom.instance_scrapes[("orders", "replica-2")] = clock.now + 4.0
    assert cycle(engine, clock, prom, None) == []
    assert cycle(engine, clock, prom, None) == []
    assert sample(engine, "relia_anomaly_scrape_gaps_total", cause="new_target") == 1
    assert cycle(engine, clock, prom, 10.0) == []
    assert notes.payloads == []


def test_a_service_not_scraped_again_after_the_hole_opens_no_data() -> None:
    prom = FakePrometheus(scraped_at={"orders": 0.0, "users": 0.0})
    engine, _, clock = make(prom)

    def run(scraped: dict[str, float], values: dict[str, float]) -> list[Transition]:
        clock.tick(5.0)
        prom.scraped_at, prom.values[RATE] = scraped, values
        return asyncio.run(engine.run_cycle())

    for _ in range(6):
        fresh = clock.now + 4.0
        assert run({"orders": fresh, "users": fresh}, {"orders": 10.0, "users": 10.0}) == []
    users_last = prom.scraped_at["users"]
    prom.down = True
    run({}, {})
    prom.down = False
    back_at = clock.now + 5.0
    opened: list[tuple[float, str]] = []
    for _ in range(12):
        # orders is scraped again; users' target went away during the hole.
        new = run({"orders": clock.now + 4.0, "users": users_last}, {"orders": 10.0})
        opened += [(clock.now - back_at, t.anomaly["service"]) for t in new]
    # orders resumed at the second cycle (5 s); users had the longest window (15 s) and one
    # cycle (5 s) more to follow, then NO_DATA_CYCLES (2) counted cycles.
    assert opened == [(5.0 + 15.0 + 5.0 + 2 * 5.0, "users")]


def test_a_sample_older_than_the_last_point_is_skipped_and_counted() -> None:
    engine, _notes, clock, prom = running()
    state = next(iter(engine.tracker.series.values()))
    before, last_ts = state.last, state.last_ts
    assert last_ts is not None
    clock.now -= 60.0  # the clock steps back a minute
    assert cycle(engine, clock, prom, 99.0) == []  # no crash, nothing learned, not missing
    assert state.last is before
    assert state.last_ts == last_ts
    assert state.missing_cycles == 0
    assert sample(engine, "relia_anomaly_out_of_order_samples_total") == 1
    times = [t for t in state.evidence.as_dict()["timestamps"] if t is not None]
    assert times == sorted(times)
    clock.now = last_ts  # time catches up: fed again
    assert cycle(engine, clock, prom, 10.0) == []
    assert state.last is not before
    assert not math.isnan(state.last.value)  # type: ignore[union-attr]


def test_scrape_times_going_backwards_are_out_of_order_not_fed() -> None:
    engine, notes, clock, prom = running()
    state = next(iter(engine.tracker.series.values()))
    before = state.last
    clock.tick(5.0)
    prom.scraped_at = {"orders": clock.now - 600.0}
    prom.values[RATE] = {"orders": 99.0}
    assert asyncio.run(engine.run_cycle()) == []
    assert state.last is before
    assert state.missing_cycles == 0
    assert sample(engine, "relia_anomaly_out_of_order_samples_total") == 1
    assert notes.payloads == []


def test_scrapes_overdue_for_every_service_are_a_hole_on_any_promql_server() -> None:
    """A restart (or a stall) that no cycle saw and no start time tells: Prometheus answers
    with its old scrapes, and none is newer for longer than twice the usual spacing."""
    engine, notes, clock, prom = running()
    # 6 s since the newest scrape: the 15 s rate window still holds two scrapes.
    assert cycle(engine, clock, prom, 10.0, scraped=False) == []
    # 11 s: the window is down to one scrape and the series is absent; no scrape for more
    # than twice the usual 5 s: a hole, so the absence does not count.
    for _ in range(6):
        assert cycle(engine, clock, prom, None, scraped=False) == []
    assert sample(engine, "relia_anomaly_scrape_gaps_total", cause="scrapes_stalled") == 1
    for _ in range(3):  # scraping again: the window refills
        assert cycle(engine, clock, prom, None) == []
    assert cycle(engine, clock, prom, 10.0) == []
    assert notes.payloads == []
    assert sample(engine, "relia_anomaly_scrape_gaps_total", cause="scrapes_stalled") == 1


def test_one_service_overdue_while_others_are_scraped_is_no_hole() -> None:
    prom = FakePrometheus(scraped_at={"orders": 0.0, "users": 0.0})
    engine, _, clock = make(prom)
    for _ in range(6):
        clock.tick(5.0)
        prom.scraped_at = {"orders": clock.now - 1.0, "users": clock.now - 1.0}
        prom.values[RATE] = {"orders": 10.0, "users": 10.0}
        assert asyncio.run(engine.run_cycle()) == []
    frozen = prom.scraped_at["users"]
    opened = []
    for _ in range(4):
        clock.tick(5.0)
        prom.scraped_at = {"orders": clock.now - 1.0, "users": frozen}
        prom.values[RATE] = {"orders": 10.0}
        opened += [t.anomaly["service"] for t in asyncio.run(engine.run_cycle())]
    assert opened == ["users"]  # after NO_DATA_CYCLES, as before
    assert sample(engine, "relia_anomaly_scrape_gaps_total", cause="scrapes_stalled") == 0


def test_where_the_start_time_is_known_overdue_scrapes_are_no_hole() -> None:
    """Every service hung at once: failed scrapes land a scrape timeout late and look overdue.
    With Prometheus' start time to tell restarts, that is no hole: no_data opens as before."""
    prom = FakePrometheus(scraped_at={"orders": 0.0}, started="2026-11-30T09:00:00Z")
    engine, notes, clock = make(prom)
    for _ in range(6):
        cycle(engine, clock, prom, 10.0)
    assert cycle(engine, clock, prom, None, scraped=False) == []
    (opened,) = cycle(engine, clock, prom, None, scraped=False)
    assert opened.anomaly["kind"] == "no_data"
    assert len(notes.payloads) == 1
    assert sample(engine, "relia_anomaly_scrape_gaps_total", cause="scrapes_stalled") == 0


def test_a_lone_service_never_scraped_again_waits_at_most_the_lookback() -> None:
    """The only service, removed while Prometheus was down: nothing shows Prometheus scrapes
    again, so its absence waits, but no longer than Prometheus' 5 min lookback."""
    engine, notes, clock, prom = running()
    prom.down = True
    cycle(engine, clock, prom, scraped=False)
    prom.down = False
    back = clock.now + 5.0
    opened = []
    for _ in range(70):
        opened += [
            (clock.now - back, t.anomaly["kind"])
            for t in cycle(engine, clock, prom, None, scraped=False)
        ]
    # Held through 300 s, then NO_DATA_CYCLES (2) counted cycles.
    assert opened == [(310.0, "no_data")]
    assert len(notes.payloads) == 1
