"""The detection cycle: query Prometheus, update the bank, run the lifecycle, emit events."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from anomaly_service import load
from anomaly_service.catalog import MetricSpec, query_window_s
from anomaly_service.dependencies import Dependencies
from anomaly_service.detector import DetectorConfig, Direction, SeriesBank
from anomaly_service.events import alertmanager_payload
from anomaly_service.history import History
from anomaly_service.lifecycle import (
    Observation,
    SeriesKey,
    SeriesState,
    Tracker,
    Transition,
)
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.notifier import Notifier
from anomaly_service.prometheus import (
    PrometheusSource,
    PrometheusUnavailable,
    QueryRejected,
    Sample,
)
from relia_contracts.severity import SEVERITIES

log = logging.getLogger("anomaly_service.engine")

DIRECTIONS = {"up": Direction.UP, "down": Direction.DOWN, "both": Direction.BOTH}
Clock = Callable[[], float]
# Prometheus' default lookback delta: an instant query still returns a scrape this old, so a
# service can look present (with old scrape times) this long after its scrapes stopped.
LOOKBACK_S = 300.0


@dataclass
class ScrapeGap:
    """A hole in one service's scrapes: Prometheus was down or restarted, the engine just
    started (it cannot know what came before), or a target of the service is new. Until the
    scrapes resume and a query's window has passed since, the query may miss series whose data
    is fine, so their absence does not count toward no_data."""

    before: float  # the service's newest scrape time at the hole (-inf: none known)
    ended_at: float  # engine time Prometheus answered again
    resumed_at: float | None = None  # time of the first scrape after the hole


@dataclass
class MetricStatus:
    """Per catalog entry: Prometheus' verdict on its query and what it returned."""

    error: str | None = None
    series: int = 0
    skipped: int = 0  # samples without a service label or with a non-finite value
    last_ok_at: float | None = None


@dataclass
class EngineOptions:
    check_interval: float = 5.0
    backfill_window_s: float = 900.0
    backfill_step_s: float = 0.0
    no_data_cycles: int = 2
    up_selector: str = 'up{job="services"}'
    external_url: str = "http://anomaly-service:8080"
    history_size: int = 1000
    evidence_points: int = 360
    series_capacity: int = 256
    series_ttl_s: float = 3600.0


@dataclass
class CycleState:
    cycle: int = 0
    last_cycle_at: float | None = None
    last_success_at: float | None = None
    last_duration_s: float | None = None
    prometheus_ok: bool = False
    prometheus_error: str | None = "no cycle has run yet"
    backfilled: bool = False
    backfill_points: int = 0
    replicas: dict[str, tuple[int, int]] = field(default_factory=dict)  # service -> (up, total)


class Engine:
    def __init__(
        self,
        catalog: list[MetricSpec],
        source: PrometheusSource,
        notifier: Notifier,
        clock: Clock,
        options: EngineOptions,
        metrics: ServiceMetrics,
        detector_config: DetectorConfig | None = None,
        dependencies: Dependencies | None = None,
        history: History | None = None,
    ) -> None:
        self.catalog = catalog
        self.source = source
        self.notifier = notifier
        self.clock = clock
        self.options = options
        self.metrics = metrics
        self.config = detector_config or DetectorConfig()
        self.dependencies = dependencies or Dependencies()
        self.load = load.LoadWatch()
        self.bank = SeriesBank(self.config, capacity=options.series_capacity)
        # A restored open anomaly closes after more calm points than it takes to open one.
        rejudge = max(self.config.close_after, self.config.open_after + 1)
        self.tracker = Tracker(
            options.history_size, options.evidence_points, options.no_data_cycles, rejudge
        )
        self.history = history or History(None)
        self.status: dict[str, MetricStatus] = {spec.name: MetricStatus() for spec in catalog}
        self.state = CycleState()
        self._lock = asyncio.Lock()
        self.feedback_lock = asyncio.Lock()  # one label or reset at a time
        self._backfilled: set[str] = set()
        # service -> timestamp of the newest scrape whose values the detector has consumed
        self._consumed_scrape: dict[str, float] = {}
        # How far back each catalog query reads; after a hole, no_data waits this long.
        self.windows = {spec.name: query_window_s(spec.query) for spec in catalog}
        self.max_window = max(self.windows.values(), default=0.0)
        self._gaps: dict[str, ScrapeGap] = {}
        self._hole: str | None = "engine_start"  # a hole not yet turned into per-service gaps
        self._first_resume: float | None = None  # engine time a service first resumed after it
        self._prometheus_started: str | None = None
        # service -> the last few advances of its newest scrape time (its scrape spacing as
        # the cycles see it), and whether every service's scrapes are overdue right now.
        self._spacing: dict[str, deque[float]] = {}
        self._stalled = False
        self._targets_seen: set[tuple[tuple[str, str], ...]] | None = None

    # ---- readiness -------------------------------------------------------------------------
    def fresh(self) -> bool:
        """Data is current: the last cycle reached Prometheus and it was recent."""
        s = self.state
        if not s.prometheus_ok or s.last_success_at is None:
            return False
        return self.clock() - s.last_success_at <= 3 * self.options.check_interval + 5.0

    # ---- backfill --------------------------------------------------------------------------
    async def backfill(self) -> None:
        """Seed baselines from the recent past (range query) so a restart is not blind."""
        window = self.options.backfill_window_s
        if window <= 0:
            self.state.backfilled = True
            return
        end = self.clock()
        step = self.options.backfill_step_s or self.options.check_interval
        points = 0
        for spec in self.catalog:
            if spec.name in self._backfilled:
                continue  # an earlier, partly failed attempt already seeded this one
            try:
                result = await self.source.query_range(spec.query, end - window, end, step)
            except QueryRejected as exc:
                self._reject(spec, exc.reason)
                continue
            for series in result:
                labels = _clean(series.labels)
                if "service" not in labels:
                    continue
                pairs = [
                    (t, v)
                    for t, v in zip(series.timestamps, series.values, strict=False)
                    if math.isfinite(v)
                ]
                if not pairs:
                    continue
                state = self.tracker.state(spec, labels)
                self._slot(state)
                self.bank.seed(state.key, np.array([v for _, v in pairs], dtype=float))
                for t, v in pairs[-self.options.evidence_points :]:
                    state.evidence.add(t, v, None, None, None)
                state.last_ts = pairs[-1][0]
                points += len(pairs)
            self._backfilled.add(spec.name)
        self.state.backfilled = True
        self.state.backfill_points = points
        log.info(
            "backfilled %d points over %.0fs for %d series",
            points,
            window,
            len(self.tracker.series),
        )

    # ---- one cycle -------------------------------------------------------------------------
    async def run_cycle(self) -> list[Transition]:
        async with self._lock:
            transitions = await self._cycle()
            await self.history.after_cycle(self.tracker, transitions)
            return transitions

    async def _cycle(self) -> list[Transition]:
        started = time.perf_counter()
        ts = self.clock()
        self.state.cycle += 1
        self.state.last_cycle_at = ts
        try:
            if not self.state.backfilled:
                await self.backfill()
            # One evaluation time for every query, so the scrape times below describe exactly
            # the samples the catalog queries read.
            gathered = await asyncio.gather(
                *(self._query(spec, ts) for spec in self.catalog),
                self._targets(ts),
                self._start_time(),
                return_exceptions=True,  # every query finishes; no stray exceptions left behind
            )
            for outcome in gathered:
                if isinstance(outcome, BaseException):
                    raise outcome
            results = [r for r in gathered[:-2] if isinstance(r, list) or r is None]
            targets = gathered[-2] if isinstance(gathered[-2], tuple) else ({}, {})
            prom_started = gathered[-1] if isinstance(gathered[-1], str) else None
            edges = await self.dependencies.sample(self.source, ts)
        except PrometheusUnavailable as exc:
            # Unknown is not healthy: no series is marked missing, nothing is resolved.
            if self._hole is None:
                self._hole = "prometheus_down"
            self.state.prometheus_ok = False
            self.state.prometheus_error = str(exc)
            self.metrics.prometheus_up.set(0)
            self.metrics.cycles.labels("prometheus_down").inc()
            log.warning("cycle %d: Prometheus unavailable: %s", self.state.cycle, exc)
            return []
        scraped, new_targets = targets
        self._track_gaps(ts, scraped, new_targets, prom_started)
        unchanged, behind = self._unchanged(scraped)
        transitions = self._classify(ts, results, unchanged, behind)
        load.stamp(self.load, self.tracker, ts)  # before: the events carry its verdict
        self.dependencies.update(ts, edges, self.tracker, transitions)
        self.state.prometheus_ok = True
        self.state.prometheus_error = None
        self.state.last_success_at = ts
        duration = time.perf_counter() - started
        self.state.last_duration_s = duration
        if self.history.carry:  # closed at restore: announced with this cycle's events
            transitions = self.history.carry + transitions
            self.history.carry = []
        self._emit(transitions)
        self._export(ts, duration)
        return transitions

    async def _query(self, spec: MetricSpec, at: float) -> list[Sample] | None:
        try:
            samples = await self.source.query(spec.query, at)
        except QueryRejected as exc:
            self._reject(spec, exc.reason)
            return None
        status = self.status[spec.name]
        status.error = None
        self.metrics.query_errors.labels(spec.name).set(0)
        return samples

    def _reject(self, spec: MetricSpec, reason: str) -> None:
        status = self.status[spec.name]
        if status.error != reason:
            log.error("metric %r: Prometheus rejected the query: %s", spec.name, reason)
        status.error = reason
        self.metrics.query_errors.labels(spec.name).set(1)

    async def _start_time(self) -> str | None:
        """Prometheus' process start time, where the source can tell it (None otherwise)."""
        probe = getattr(self.source, "start_time", None)
        if probe is None:
            return None
        started = await probe()
        return started if isinstance(started, str) else None

    async def _targets(self, at: float) -> tuple[dict[str, float], dict[str, float]]:
        """Replicas up/total per service, the time of each service's newest scrape, and the
        targets Prometheus did not have in the previous cycle (service -> their scrape time)."""
        selector = self.options.up_selector
        try:
            up = await self.source.query(f"sum by (service) ({selector})", at)
            total = await self.source.query(f"count by (service) ({selector})", at)
            scrapes = await self.source.query(f"timestamp({selector})", at)
        except QueryRejected as exc:
            log.error("replica query rejected: %s", exc.reason)
            return {}, {}
        counts = {
            s.labels.get("service", ""): int(s.value) for s in total if math.isfinite(s.value)
        }
        ups = {s.labels.get("service", ""): int(s.value) for s in up if math.isfinite(s.value)}
        self.state.replicas = {svc: (ups.get(svc, 0), n) for svc, n in counts.items() if svc}
        newest: dict[str, float] = {}
        new: dict[str, float] = {}
        seen = set()
        for sample in scrapes:
            service = sample.labels.get("service")
            if not service or not math.isfinite(sample.value):
                continue
            newest[service] = max(sample.value, newest.get(service, -math.inf))
            target = tuple(sorted(_clean(sample.labels).items()))
            seen.add(target)
            if self._targets_seen is not None and target not in self._targets_seen:
                new[service] = max(sample.value, new.get(service, -math.inf))
        self._targets_seen = seen
        return newest, new

    def _track_gaps(
        self,
        ts: float,
        scraped: dict[str, float],
        new_targets: dict[str, float],
        started: str | None,
    ) -> None:
        """Turn holes in the scrapes into per-service gaps and follow each until it is over.

        A hole: cycles that could not reach Prometheus, a Prometheus restart the cycles did not
        see (its start time changed), scrapes overdue for every service at once (Prometheus
        answers but does not scrape: a restart on a server that does not tell its start time),
        or the engine's own start. Every service gets a gap that resumes at its first scrape
        newer than the one seen before the hole. A target Prometheus did not have in the
        previous cycle opens a gap resumed at its first scrape."""
        if started is not None:
            if self._prometheus_started is not None and started != self._prometheus_started:
                log.warning("Prometheus restarted (start time %s)", started)
                self._hole = self._hole or "prometheus_restart"
            self._prometheus_started = started
        # Where the start time tells restarts, overdue scrapes are not needed: all services hung
        # at once (failed scrapes written a timeout late) must not pass for a hole there.
        self._watch_stall(ts, scraped, tell=self._prometheus_started is None)
        if self._hole is not None:
            self._open_gaps(ts, scraped, self._hole)
        for service, at in new_targets.items():
            gap = self._gaps.get(service)
            if gap is None or (gap.resumed_at is not None and gap.resumed_at < at):
                self.metrics.scrape_gaps.labels("new_target").inc()
                self._gaps[service] = ScrapeGap(-math.inf, ts, at)
        self._follow_gaps(ts, scraped)

    def _open_gaps(self, ts: float, scraped: dict[str, float], hole: str) -> None:
        """A hole: every service gets a gap that ends now."""
        self.metrics.scrape_gaps.labels(hole).inc()
        services = set(scraped) | {s.service for s in self.tracker.series.values()}
        for service in services:
            # The newest scrape Prometheus has now may still be from before the hole (it
            # answers before it scrapes again): only a newer one shows scraping resumed.
            before = max(
                self._consumed_scrape.get(service, -math.inf),
                scraped.get(service, -math.inf),
            )
            self._gaps[service] = ScrapeGap(before, ts)
        self._hole, self._first_resume = None, None

    def _follow_gaps(self, ts: float, scraped: dict[str, float]) -> None:
        """A gap resumes at its service's first newer scrape, and ends once every window
        read after that is whole again."""
        for service, gap in list(self._gaps.items()):
            if gap.resumed_at is None:
                newest = scraped.get(service)
                if newest is None:
                    # No scrape times for it (a catalog on another job, or a target gone):
                    # nothing to wait for but the windows from now.
                    gap.resumed_at = gap.ended_at
                elif newest > gap.before:
                    gap.resumed_at = newest
                    if self._first_resume is None:
                        self._first_resume, self._stalled = ts, False
                elif ts - gap.ended_at > LOOKBACK_S:
                    del self._gaps[service]  # never scraped again: its absence is real
            elif ts >= gap.resumed_at + self.max_window:
                del self._gaps[service]  # every window is whole again

    def _watch_stall(self, ts: float, scraped: dict[str, float], tell: bool = True) -> None:
        """Every service's newest scrape overdue: older than twice its usual spacing, the
        smallest of the last four advances the cycles saw. Prometheus writes `up` at every
        scrape (0 for a target that is down) and marks a removed target's series stale, so no
        new scrape for any service means Prometheus is not scraping: restarted without a cycle
        seeing it down, or stalled. A rate over three scrapes (15 s at 5 s) empties once its
        newest scrape is two spacings old, so this is told by the cycle that would first miss
        it. `tell`: whether overdue scrapes open a hole (else the spacing is only learned)."""
        overdue = []
        for service, at in scraped.items():
            spacing = self._spacing.setdefault(service, deque(maxlen=4))
            advance = at - self._consumed_scrape.get(service, math.inf)
            if advance > 0:
                spacing.append(advance)
            if spacing:
                overdue.append(ts - at > 2 * min(spacing))
        if overdue and all(overdue):
            if tell and not self._stalled and self._hole is None:
                log.warning("no service scraped for a while: a hole in the scrapes")
                self._hole = "scrapes_stalled"
            self._stalled = True
        elif not any(overdue):
            self._stalled = False

    def _no_data_held(self, state: SeriesState, ts: float) -> bool:
        """Whether the series' query may still miss it because of a hole in the scrapes."""
        gap = self._gaps.get(state.service)
        if gap is None:
            return False
        if gap.resumed_at is None:
            # Not scraped since the hole. While no service is, Prometheus is not scraping yet
            # (2.x waits ~5 s after its start); once one is, the others get the longest window
            # and one cycle to follow, then this one's absence is real.
            return (
                self._first_resume is None
                or ts - self._first_resume <= self.max_window + self.options.check_interval
            )
        return ts < gap.resumed_at + self.windows.get(state.spec.name, self.max_window)

    def _unchanged(self, scraped: dict[str, float]) -> tuple[set[str], set[str]]:
        """Services not scraped since the last cycle that fed the detector.

        The cycle and the scrapes both run every 5 s without a common phase, so now and then two
        cycles read the same scrape. Fed twice, one abnormal scrape met the detector's "two
        abnormal points" rule on its own, and the anomaly opened with every other signal still
        from that first scrape (at a load spike's onset: high p99, CPU not yet up). A service
        without scrape times (a catalog on another job) is fed every cycle.

        Also returns the services whose newest scrape is older than one already fed (scrape
        times going backwards): their samples are out of order."""
        unchanged, behind = set(), set()
        for service, at in scraped.items():
            consumed = self._consumed_scrape.get(service, -math.inf)
            if at < consumed:
                unchanged.add(service)
                behind.add(service)
            elif at == consumed:
                unchanged.add(service)
                self.metrics.repeated_scrapes.inc()
            else:
                self._consumed_scrape[service] = at
        return unchanged, behind

    def _classify(
        self,
        ts: float,
        results: list[list[Sample] | None],
        unchanged: set[str],
        behind: set[str] | None = None,
    ) -> list[Transition]:
        batch = _Batch()
        for spec, samples in zip(self.catalog, results, strict=True):
            if samples is None:
                continue  # rejected query: its series are unknown, not missing
            self._read_query(spec, samples, ts, batch, unchanged, behind or set())
        transitions = self._missing(ts, batch)
        if batch.present:
            transitions.extend(self._detect(ts, batch.present, batch.values))
        return transitions

    def _read_query(
        self,
        spec: MetricSpec,
        samples: list[Sample],
        ts: float,
        batch: _Batch,
        unchanged: set[str],
        behind: set[str],
    ) -> None:
        """One query's answer: its series are seen, those with a new usable value go on."""
        batch.answered.add(spec.name)
        status = self.status[spec.name]
        status.last_ok_at, status.skipped, status.series = ts, 0, 0
        for sample in samples:
            labels = _clean(sample.labels)
            if "service" not in labels:
                status.skipped += 1
                continue
            state = self.tracker.state(spec, labels)
            if state.key in batch.seen:
                status.skipped += 1  # duplicate label set (query not grouped as documented)
                continue
            batch.seen.add(state.key)
            status.series += 1
            if self._new_value(state, sample.value, ts, status, unchanged, behind):
                batch.present.append(state)
                batch.values.append(sample.value)

    def _new_value(
        self,
        state: SeriesState,
        value: float,
        ts: float,
        status: MetricStatus,
        unchanged: set[str],
        behind: set[str],
    ) -> bool:
        """Whether a present series' value goes to the detector this cycle."""
        if not math.isfinite(value):
            # NaN/Inf from Prometheus: the series exists, its value is unusable.
            status.skipped += 1
            return False
        if state.service in unchanged:
            if state.service in behind:
                self.metrics.out_of_order.inc()
            return False  # present, but no new scrape: the detector saw this value already
        if state.last_ts is not None and ts < state.last_ts:
            # Older than the series' last point (the clock stepped back): skipped, so
            # the detector and the evidence only ever move forward in time.
            self.metrics.out_of_order.inc()
            return False
        return True

    def _missing(self, ts: float, batch: _Batch) -> list[Transition]:
        """One pass over known series: absent from a query that answered means missing."""
        transitions: list[Transition] = []
        held = 0
        for state in list(self.tracker.series.values()):
            if state.key in batch.seen or state.spec.name not in batch.answered:
                continue
            hold = self._no_data_held(state, ts)
            held += hold
            transitions.extend(self.tracker.missing(state, ts, hold))
            if state.missing_cycles * self.options.check_interval > self.options.series_ttl_s:
                # Gone for good (a label set that no longer exists): bounded memory.
                transitions.extend(self.tracker.expire(state, ts))
                self.bank.release(state.key)
        self.metrics.no_data_held.set(held)
        return transitions

    def _detect(
        self, ts: float, present: list[SeriesState], values: list[float]
    ) -> list[Transition]:
        """The detector's step over the series with a new value, and what it opens or closes."""
        transitions: list[Transition] = []
        slots = np.fromiter((self._slot(s) for s in present), dtype=np.int64, count=len(present))
        v = self.bank.update(slots, np.asarray(values, dtype=float))
        # Plain lists once: per-element numpy scalar access is the slow part at 10k series.
        cols = zip(
            v.baseline.tolist(),
            v.lower.tolist(),
            v.upper.tolist(),
            v.score.tolist(),
            v.severity.tolist(),
            v.open.tolist(),
            v.warming.tolist(),
            strict=True,
        )
        mutes = self.history.by_key
        for state, value, (base, low, up, score, sev, is_open, warming) in zip(
            present, values, cols, strict=True
        ):
            low, up = clip_band(low, up, state.spec)
            obs = Observation(value, base, low, up, score, int(sev), bool(is_open), bool(warming))
            if mutes and self.history.muted(state.key, ts):
                obs = replace(obs, open=False, severity=0)  # operator mute: nothing opens
            transitions.extend(self.tracker.observe(state, ts, obs))
        return transitions

    def _slot(self, state: SeriesState) -> int:
        """The series' bank slot, created once (the catalog is fixed for the process' life)."""
        if state.slot is None:
            spec = state.spec
            state.slot = self.bank.slot(
                state.key, DIRECTIONS[spec.direction], spec.floor, spec.min_spread
            )
            self.bank.set_widen(state.slot, self.history.factor(state.key))
        return state.slot

    def apply_sensitivity(self, key: SeriesKey) -> None:
        """Operator feedback changed a series' factor: the detector uses it from the next point."""
        slot = self.bank.key_slot(key)
        if slot is not None:
            self.bank.set_widen(slot, self.history.factor(key))

    def _emit(self, transitions: list[Transition]) -> None:
        for t in transitions:
            self.metrics.events_emitted.labels(t.status).inc()
            if t.reason == "open":
                a = t.anomaly
                self.metrics.opened.labels(a["metric"], a["severity"], a["kind"]).inc()
            self.notifier.submit(
                alertmanager_payload(t.anomaly, t.status, self.options.external_url)
            )

    def _export(self, ts: float, duration: float) -> None:
        m = self.metrics
        m.cycle_duration.observe(duration)
        m.cycles.labels("ok").inc()
        m.last_success.set(ts)
        m.prometheus_up.set(1)
        m.series_tracked.set(len(self.tracker.series))
        counts: dict[tuple[str, str, str], int] = {}
        for a in self.tracker.active.values():
            key = (a.metric, SEVERITIES[a.severity], a.kind)
            counts[key] = counts.get(key, 0) + 1
        m.active.clear()
        for spec in self.catalog:
            for word in SEVERITIES[1:]:
                m.active.labels(spec.name, word, "deviation").set(0)
        for (metric, sev, kind), n in counts.items():
            m.active.labels(metric, sev, kind).set(n)

    # ---- background loop -------------------------------------------------------------------
    async def run_forever(self, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        interval = self.options.check_interval
        while True:
            started = time.monotonic()
            try:
                await self.run_cycle()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one cycle must not stop detection for good
                log.exception("detection cycle %d failed", self.state.cycle)
            await sleep(max(0.0, interval - (time.monotonic() - started)))


def _clean(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


def clip_band(lower: float, upper: float, spec: MetricSpec) -> tuple[float, float]:
    """Keep the band inside the range the signal can take (no negative seconds or cores)."""
    if spec.min_value is not None:
        lower = max(lower, spec.min_value)
    if spec.max_value is not None:
        upper = min(upper, spec.max_value)
    return lower, upper


@dataclass
class _Batch:
    """A cycle's query answers: series seen, metrics answered, and the new values."""

    present: list[SeriesState] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    seen: set[Any] = field(default_factory=set)
    answered: set[str] = field(default_factory=set)
