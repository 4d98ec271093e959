"""Load as a root cause (pure, no I/O): a service's latency, errors or unanswered probes that
start while its traffic and its CPU are both above their normal bands are the load's doing, not
a fault a restart cures (docs/root-cause.md, "Load")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anomaly_service.lifecycle import Tracker

# The signals that together say "more work than usual", and the signals load passes on. More
# traffic alone is not load (a chaos run's background traffic doubles a quiet service's rate
# and costs it nothing); more traffic that burns CPU is.
LOAD_SIGNALS = ("request_rate", "cpu")
LOAD_EFFECTS = frozenset({"latency", "error_rate", "probe_success", "probe_unanswered"})


@dataclass(frozen=True)
class Reading:
    """One cycle's value of one load signal of a service against the top of its normal band."""

    service: str
    signal: str
    ts: float
    value: float | None
    upper: float | None
    warming: bool = False

    @property
    def above(self) -> bool:
        return (
            not self.warming
            and self.value is not None
            and self.upper is not None
            and self.value > self.upper
        )


@dataclass
class LoadWatch:
    """When each service's traffic and CPU were last above their bands together. An anomaly is
    load-driven while that happened at most `lookback_s` before it opened and at most `hold_s`
    ago: the p99's 15 s window lags the load by up to 15 s at both ends (at the end of a spike
    it still counts slow requests while the rate is back in its band), and trouble that
    outlives the load by more than that is not the load's."""

    lookback_s: float = 20.0
    hold_s: float = 30.0
    above_at: dict[str, float] = field(default_factory=dict)

    def observe(self, readings: Iterable[Reading]) -> None:
        """One cycle's readings: a service is under load when every load signal is above."""
        above: dict[tuple[str, float], set[str]] = {}
        for r in readings:
            if r.above:
                above.setdefault((r.service, r.ts), set()).add(r.signal)
        for (service, ts), signals in above.items():
            if signals >= set(LOAD_SIGNALS):
                self.above_at[service] = max(ts, self.above_at.get(service, ts))

    def driven(self, service: str, metric: str, kind: str, opened_at: float, now: float) -> bool:
        if metric not in LOAD_EFFECTS or kind != "deviation":
            return False
        at = self.above_at.get(service)
        return at is not None and at >= opened_at - self.lookback_s and now - at <= self.hold_s


def readings(tracker: Tracker, ts: float) -> list[Reading]:
    """This cycle's readings of the load signals, one per series."""
    out = []
    for state in tracker.series.values():
        obs, name = state.last, state.spec.name
        if name in LOAD_SIGNALS and obs is not None and state.last_ts == ts:
            out.append(Reading(state.service, name, ts, obs.value, obs.upper, obs.warming))
    return out


def stamp(watch: LoadWatch, tracker: Tracker, ts: float) -> None:
    """Learn this cycle's readings, then mark the open anomalies the load explains now."""
    watch.observe(readings(tracker, ts))
    for anomaly in tracker.active.values():
        anomaly.load_driven = watch.driven(
            anomaly.service, anomaly.metric, anomaly.kind, anomaly.opened_at, ts
        )
