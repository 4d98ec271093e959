"""Anomaly lifecycle (pure): open, escalate, resolve; no_data; bounded history and evidence."""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from anomaly_service.catalog import MetricSpec
from anomaly_service.records import (
    Anomaly,
    Evidence,
    Observation,
    SeriesKey,
    SeriesState,
    Transition,
    fingerprint,
    series_key,
    thaw,
)

CRITICAL = 3


class Tracker:
    """Series state and anomalies. Pure: the caller supplies time and detector verdicts."""

    def __init__(
        self,
        history_size: int = 1000,
        evidence_points: int = 360,
        no_data_cycles: int = 2,
        rejudge_points: int = 3,
    ) -> None:
        self.series: dict[SeriesKey, SeriesState] = {}
        self.active: dict[str, Anomaly] = {}
        # Resolved anomalies, oldest evicted first: memory stays bounded.
        self.resolved: OrderedDict[str, Anomaly] = OrderedDict()
        self.history_size = history_size
        self.evidence_points = evidence_points
        self.no_data_cycles = no_data_cycles
        # A restored anomaly closes after this many judged-normal points (the close_after rule).
        self.rejudge_points = rejudge_points
        self.opened_total = 0

    def state(self, spec: MetricSpec, labels: dict[str, str]) -> SeriesState:
        key = series_key(spec.name, labels)
        found = self.series.get(key)
        if found is None:
            found = SeriesState(key, spec, dict(labels), Evidence(self.evidence_points))
            self.series[key] = found
        else:
            found.spec = spec
        return found

    def observe(self, state: SeriesState, ts: float, obs: Observation) -> list[Transition]:
        """A present point: feed the evidence, run the deviation lifecycle, end no_data."""
        out: list[Transition] = []
        state.last, state.last_ts = obs, ts
        state.missing_cycles = state.counted_missing = 0
        state.evidence.add(ts, obs.value, obs.baseline, obs.lower, obs.upper)
        if state.no_data is not None:
            out.append(self._resolve(state, state.no_data, ts))
            state.no_data = None
        anomaly = state.deviation
        if anomaly is None:
            if obs.open and obs.severity > 0:
                anomaly = self._open(state, "deviation", obs.severity, ts)
                state.deviation = anomaly
                self._set_values(anomaly, obs, ts)
                out.append(self._fire(anomaly, "open"))
            return out
        if anomaly.restored and not self._rejudged(anomaly, obs):
            return out
        if not obs.open:
            self._set_values(anomaly, obs, ts)
            out.append(self._resolve(state, anomaly, ts))
            state.deviation = None
            return out
        # Still open: an open anomaly is at least `info` even when this point looks calmer.
        anomaly.severity = max(1, obs.severity)
        anomaly.peak_severity = max(anomaly.peak_severity, anomaly.severity)
        self._set_values(anomaly, obs, ts)
        if anomaly.severity > anomaly.sent_severity:
            out.append(self._fire(anomaly, "escalate"))
        return out

    def _rejudged(self, anomaly: Anomaly, obs: Observation) -> bool:
        """An anomaly open before a restart meets a fresh detector: no verdict while it warms
        up, adopted (same id, no second open) as soon as the detector opens on the series, and
        closed only after `rejudge_points` judged points in a row without an open verdict
        (more than the detector's open_after, so an incident still under way is adopted).
        True: the usual lifecycle takes over for this point."""
        if obs.warming:
            anomaly.value = obs.value
            return False
        if obs.open:
            anomaly.restored, anomaly.calm = False, 0
            return True
        anomaly.calm += 1
        if anomaly.calm >= self.rejudge_points:
            return True
        anomaly.value = obs.value
        return False

    def adopt(self, state: SeriesState, anomaly: Anomaly) -> None:
        """Attach an anomaly restored from the history store to its series (no event: it was
        announced before the restart)."""
        anomaly.restored = anomaly.kind == "deviation"
        self.active[anomaly.id] = anomaly
        if anomaly.kind == "no_data":
            state.no_data = anomaly
        else:
            state.deviation = anomaly

    def keep_resolved(self, anomaly: Anomaly) -> None:
        """A resolved anomaly from the history store, oldest first."""
        self.resolved[anomaly.id] = anomaly
        while len(self.resolved) > self.history_size:
            self.resolved.popitem(last=False)

    def interrupt(self, anomaly: Anomaly, ts: float) -> Transition:
        """A restored open anomaly that cannot be judged again (its metric left the catalog)."""
        anomaly.interrupted = True
        anomaly.status, anomaly.resolved_at, anomaly.updated_at = "resolved", ts, ts
        self.keep_resolved(anomaly)
        return Transition("resolved", "resolve", anomaly.to_dict())

    def missing(self, state: SeriesState, ts: float, held: bool = False) -> list[Transition]:
        """The series was absent from a successful query this cycle.

        `held`: its data cannot be whole yet (the query's window still spans a hole in the
        scrapes): the absence is recorded but does not count toward `no_data`."""
        state.missing_cycles += 1
        if not held:
            state.counted_missing += 1
        state.evidence.add(ts, None, None, None, None)
        if (
            state.spec.on_missing != "no_data"
            or state.no_data is not None
            or state.counted_missing < self.no_data_cycles
        ):
            return []
        anomaly = self._open(state, "no_data", CRITICAL, ts)
        if state.last is not None:
            anomaly.baseline, anomaly.lower, anomaly.upper = (
                state.last.baseline,
                state.last.lower,
                state.last.upper,
            )
        state.no_data = anomaly
        return [self._fire(anomaly, "open")]

    def expire(self, state: SeriesState, ts: float) -> list[Transition]:
        """Forget a series absent for too long; its open anomalies are closed as expired."""
        out = []
        for anomaly in (state.no_data, state.deviation):
            if anomaly is not None:
                anomaly.expired = True
                out.append(self._resolve(state, anomaly, ts))
        state.no_data = state.deviation = None
        self.series.pop(state.key, None)
        return out

    def _open(self, state: SeriesState, kind: str, severity: int, ts: float) -> Anomaly:
        self.opened_total += 1
        anomaly = Anomaly(
            id=f"a-{uuid.uuid4().hex[:16]}",
            fingerprint=fingerprint(state.spec.name, state.labels, kind),
            service=state.service,
            metric=state.spec.name,
            labels=dict(state.labels),
            kind=kind,
            severity=severity,
            peak_severity=severity,
            opened_at=ts,
            unit=state.spec.unit,
            direction=state.spec.direction,
            updated_at=ts,
        )
        self.active[anomaly.id] = anomaly
        return anomaly

    def _fire(self, anomaly: Anomaly, reason: str) -> Transition:
        anomaly.sent_severity = anomaly.severity
        return Transition("firing", reason, anomaly.to_dict())

    def _resolve(self, state: SeriesState, anomaly: Anomaly, ts: float) -> Transition:
        anomaly.status, anomaly.resolved_at, anomaly.updated_at = "resolved", ts, ts
        anomaly.frozen_evidence = state.evidence.freeze()
        self.active.pop(anomaly.id, None)
        self.resolved[anomaly.id] = anomaly
        while len(self.resolved) > self.history_size:
            self.resolved.popitem(last=False)
        return Transition("resolved", "resolve", anomaly.to_dict())

    @staticmethod
    def _set_values(anomaly: Anomaly, obs: Observation, ts: float) -> None:
        anomaly.value, anomaly.baseline = obs.value, obs.baseline
        anomaly.lower, anomaly.upper, anomaly.updated_at = obs.lower, obs.upper, ts
        if anomaly.status == "active":
            anomaly.peak_value = worse(
                anomaly.peak_value, obs.value, obs.baseline, anomaly.direction
            )

    def get(self, anomaly_id: str) -> Anomaly | None:
        return self.active.get(anomaly_id) or self.resolved.get(anomaly_id)

    def all_anomalies(self) -> Iterator[Anomaly]:
        yield from self.active.values()
        yield from self.resolved.values()

    def evidence_for(self, anomaly: Anomaly) -> dict[str, list[Any]]:
        if anomaly.frozen_evidence is not None:
            return thaw(anomaly.frozen_evidence)
        state = self.series.get(series_key(anomaly.metric, anomaly.labels))
        if state is None:
            return Evidence(1).as_dict()
        return state.evidence.as_dict()

    def series_of(self, metric: str) -> Iterable[SeriesState]:
        return [s for s in self.series.values() if s.spec.name == metric]


def worse(
    peak: float | None, value: float | None, baseline: float | None, direction: str
) -> float | None:
    """The value further out in the bad direction (for `both`: further from the baseline)."""
    if value is None or math.isnan(value):
        return peak
    if peak is None:
        return value
    if direction == "up":
        return max(peak, value)
    if direction == "down":
        return min(peak, value)
    centre = baseline if baseline is not None and not math.isnan(baseline) else 0.0
    return value if abs(value - centre) > abs(peak - centre) else peak
