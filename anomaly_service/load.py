"""Load as a root cause (pure, no I/O): a service's latency, errors or unanswered probes that
start while its own traffic is above its normal band are the load's doing, not a fault a restart
cures (docs/root-cause.md, "Load")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anomaly_service.lifecycle import Tracker

# The signal that says "more traffic than usual", and the signals load passes on.
LOAD_SIGNAL = "request_rate"
LOAD_EFFECTS = frozenset({"latency", "error_rate", "probe_success", "probe_unanswered"})


@dataclass(frozen=True)
class RateReading:
    """One cycle's request rate of a service against the top of its normal band."""

    service: str
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
    """When each service's traffic was last above its band; an anomaly is load-driven when that
    happened from `lookback_s` before it opened until now. Once load-driven, an anomaly stays
    so until it closes: at the end of a spike the p99's window still counts the slow requests
    while the rate is already back in its band."""

    lookback_s: float = 30.0
    above_at: dict[str, float] = field(default_factory=dict)

    def observe(self, readings: Iterable[RateReading]) -> None:
        for r in readings:
            if r.above:
                self.above_at[r.service] = max(r.ts, self.above_at.get(r.service, r.ts))

    def driven(self, service: str, metric: str, kind: str, opened_at: float) -> bool:
        if metric not in LOAD_EFFECTS or kind != "deviation":
            return False
        at = self.above_at.get(service)
        return at is not None and at >= opened_at - self.lookback_s


def readings(tracker: Tracker, ts: float) -> list[RateReading]:
    """This cycle's request-rate readings, one per series of the load signal."""
    out = []
    for state in tracker.series.values():
        obs = state.last
        if state.spec.name == LOAD_SIGNAL and obs is not None and state.last_ts == ts:
            out.append(RateReading(state.service, ts, obs.value, obs.upper, obs.warming))
    return out


def stamp(watch: LoadWatch, tracker: Tracker, ts: float) -> None:
    """Learn this cycle's readings, then mark the open anomalies the load explains."""
    watch.observe(readings(tracker, ts))
    for anomaly in tracker.active.values():
        if not anomaly.load_driven:
            anomaly.load_driven = watch.driven(
                anomaly.service, anomaly.metric, anomaly.kind, anomaly.opened_at
            )
