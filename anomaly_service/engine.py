"""The detection cycle: query Prometheus, update the bank, run the lifecycle, emit events."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from anomaly_service import load, publish
from anomaly_service.catalog import MetricSpec, clip_band, query_window_s
from anomaly_service.dependencies import Dependencies
from anomaly_service.detector import DetectorConfig, Direction, SeriesBank
from anomaly_service.engine_state import CycleState, EngineOptions
from anomaly_service.history import History
from anomaly_service.lifecycle import Tracker
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.notifier import Notifier
from anomaly_service.prometheus import (
    PrometheusSource,
    PrometheusUnavailable,
    QueryRejected,
    Sample,
)
from anomaly_service.queries import Batch, CatalogQueries, clean_labels
from anomaly_service.records import Observation, SeriesKey, SeriesState, Transition
from anomaly_service.scrapes import ScrapeWatch
from anomaly_service.targets import TargetWatch, start_time

log = logging.getLogger("anomaly_service.engine")

DIRECTIONS = {"up": Direction.UP, "down": Direction.DOWN, "both": Direction.BOTH}
Clock = Callable[[], float]


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
        self.queries = CatalogQueries(catalog, source, self.tracker, metrics)
        self.status = self.queries.status  # per metric, shown by the API's catalog view
        self.state = CycleState()
        self._lock = asyncio.Lock()
        self.feedback_lock = asyncio.Lock()  # one label or reset at a time
        self._backfilled: set[str] = set()
        windows = {spec.name: query_window_s(spec.query) for spec in catalog}
        self.scrapes = ScrapeWatch(metrics, windows, options.check_interval)
        self.targets = TargetWatch(options.up_selector)

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
                self.queries.reject(spec, exc.reason)
                continue
            for series in result:
                labels = clean_labels(series.labels)
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
                *(self.queries.query(spec, ts) for spec in self.catalog),
                self._targets(ts),
                start_time(self.source),
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
            if self.scrapes.hole is None:
                self.scrapes.hole = "prometheus_down"
            self.state.prometheus_ok = False
            self.state.prometheus_error = str(exc)
            self.metrics.prometheus_up.set(0)
            self.metrics.cycles.labels("prometheus_down").inc()
            log.warning("cycle %d: Prometheus unavailable: %s", self.state.cycle, exc)
            return []
        scraped, new_targets = targets
        self.scrapes.track(ts, scraped, new_targets, prom_started, self._services)
        unchanged, behind = self.scrapes.unchanged(scraped)
        transitions = self._classify(ts, results, unchanged, behind)
        load.stamp(self.load, self.tracker, ts, self.dependencies.graph.edges())  # before: events
        self.dependencies.update(ts, edges, self.tracker, transitions)
        self.state.prometheus_ok = True
        self.state.prometheus_error = None
        self.state.last_success_at = ts
        duration = time.perf_counter() - started
        self.state.last_duration_s = duration
        if self.history.carry:  # closed at restore: announced with this cycle's events
            transitions = self.history.carry + transitions
            self.history.carry = []
        publish.emit(transitions, self.metrics, self.notifier, self.options.external_url)
        publish.export(self.metrics, self.catalog, self.tracker, ts, duration)
        return transitions

    async def _targets(self, at: float) -> tuple[dict[str, float], dict[str, float]]:
        """Each service's newest scrape and its new targets; the replicas go to the state."""
        read = await self.targets.read(self.source, at)
        if read is None:
            return {}, {}
        self.state.replicas, newest, new = read
        return newest, new

    def _classify(
        self,
        ts: float,
        results: list[list[Sample] | None],
        unchanged: set[str],
        behind: set[str] | None = None,
    ) -> list[Transition]:
        batch = Batch()
        for spec, samples in zip(self.catalog, results, strict=True):
            if samples is None:
                continue  # rejected query: its series are unknown, not missing
            self.queries.read(spec, samples, ts, batch, unchanged, behind or set())
        transitions = self._missing(ts, batch)
        if batch.present:
            transitions.extend(self._detect(ts, batch.present, batch.values))
        return transitions

    def _missing(self, ts: float, batch: Batch) -> list[Transition]:
        """One pass over known series: absent from a query that answered means missing."""
        transitions: list[Transition] = []
        held = 0
        for state in list(self.tracker.series.values()):
            if state.key in batch.seen or state.spec.name not in batch.answered:
                continue
            hold = self.scrapes.held(state.service, state.spec.name, ts)
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

    def _services(self) -> set[str]:
        return {s.service for s in self.tracker.series.values()}

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
