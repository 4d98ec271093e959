"""Load as a root cause (pure, no I/O): a service's latency, errors or unanswered probes that
start while its traffic and its CPU are both above their normal bands are the load's doing, not
a fault a restart cures. So is the host's load: a slowdown that starts while the service waits
for a CPU (its run-queue delay, `cpu_wait`, above its band or half of each second), or
together with one on a service it does not call and is not called by (docs/root-cause.md,
"Load")."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anomaly_service.lifecycle import Tracker

# The signals that together say "more work than usual", and the signals load passes on. More
# traffic alone is not load (a chaos run's background traffic doubles a quiet service's rate
# and costs it nothing); more traffic that burns CPU is.
LOAD_SIGNALS = ("request_rate", "cpu")
LOAD_EFFECTS = frozenset({"latency", "error_rate", "probe_success", "probe_unanswered"})
# The signal a busy host moves on every service at once.
HOST_EFFECT = "latency"
# Run-queue delay: the service was ready to run and the host had no CPU for it.
STARVATION_SIGNAL = "cpu_wait"
READ_SIGNALS = frozenset({*LOAD_SIGNALS, STARVATION_SIGNAL, HOST_EFFECT})


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
    # Slowdowns that start this close together on services with no call between them (two
    # cycles and a scrape) are one host's, not two faults.
    together_s: float = 15.0
    # A run of slow cycles survives one cycle back inside the band.
    run_gap_s: float = 10.0
    # A service waits this long for a CPU per second, or more than its band allows: starved.
    starved_wait_s: float = 0.5
    above_at: dict[str, float] = field(default_factory=dict)
    starved_at: dict[str, float] = field(default_factory=dict)
    # The latest run of cycles with each service's latency above its band: (first, last).
    slow_runs: dict[str, tuple[float, float]] = field(default_factory=dict)
    # caller -> callee edges of the call graph (either direction rules a pair out).
    edges: Collection[tuple[str, str]] = ()

    def observe(self, readings: Iterable[Reading]) -> None:
        """One cycle's readings: a service is under load when every load signal is above, and
        starved when it waits for a CPU while its own CPU use is within its band (a service
        that burns more CPU than usual makes its own threads wait: that is its load, not the
        host's)."""
        above: dict[tuple[str, float], set[str]] = {}
        starved: set[tuple[str, float]] = set()
        for r in readings:
            if r.above:
                above.setdefault((r.service, r.ts), set()).add(r.signal)
            if r.signal == STARVATION_SIGNAL and self.starved(r):
                starved.add((r.service, r.ts))
            if r.signal == HOST_EFFECT and r.above:
                self._slow(r.service, r.ts)
        for (service, ts), signals in above.items():
            if signals >= set(LOAD_SIGNALS):
                self.above_at[service] = max(ts, self.above_at.get(service, ts))
        for service, ts in starved:
            if "cpu" not in above.get((service, ts), ()):
                self.starved_at[service] = max(ts, self.starved_at.get(service, ts))

    def starved(self, reading: Reading) -> bool:
        """The service waited for a CPU far more than usual, or a large share of the time."""
        return reading.above or (reading.value is not None and reading.value >= self.starved_wait_s)

    def _slow(self, service: str, ts: float) -> None:
        first, last = self.slow_runs.get(service, (ts, ts))
        if ts - last > self.run_gap_s:
            first = ts
        self.slow_runs[service] = (first, max(last, ts))

    def host_wide(self, service: str, opened_at: float, now: float) -> list[str]:
        """The services with no call to or from `service` whose latency left its band within
        `together_s` of the slowdown that opened at `opened_at` on it, and was out of it at
        most `hold_s` ago (a peer's reading, not its anomaly: a host's hiccup of two cycles
        lifts one service past its open threshold and another only past its band)."""
        return sorted(
            other
            for other, (first, last) in self.slow_runs.items()
            if other != service
            and abs(first - opened_at) <= self.together_s
            and now - last <= self.hold_s
            and (service, other) not in self.edges
            and (other, service) not in self.edges
        )

    def driven(self, service: str, metric: str, kind: str, opened_at: float, now: float) -> bool:
        if metric not in LOAD_EFFECTS or kind != "deviation":
            return False
        if metric == HOST_EFFECT and (
            self.host_wide(service, opened_at, now)
            or self._recent(self.starved_at, service, opened_at, now)
        ):
            return True
        return self._recent(self.above_at, service, opened_at, now)

    def _recent(self, marks: dict[str, float], service: str, opened_at: float, now: float) -> bool:
        """A mark at most lookback_s before the opening and at most hold_s ago."""
        at = marks.get(service)
        return at is not None and at >= opened_at - self.lookback_s and now - at <= self.hold_s


def readings(tracker: Tracker, ts: float) -> list[Reading]:
    """This cycle's readings of the load signals, one per series."""
    out = []
    for state in tracker.series.values():
        obs, name = state.last, state.spec.name
        if name in READ_SIGNALS and obs is not None and state.last_ts == ts:
            out.append(Reading(state.service, name, ts, obs.value, obs.upper, obs.warming))
    return out


def stamp(
    watch: LoadWatch, tracker: Tracker, ts: float, edges: Collection[tuple[str, str]] = ()
) -> None:
    """Learn this cycle's readings, then mark the open anomalies the load (the service's own
    or the host's) explains now."""
    watch.edges = edges
    watch.observe(readings(tracker, ts))
    for anomaly in tracker.active.values():
        anomaly.load_driven = watch.driven(
            anomaly.service, anomaly.metric, anomaly.kind, anomaly.opened_at, ts
        )
