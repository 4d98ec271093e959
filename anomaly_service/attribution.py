"""Root cause across service calls (pure, no I/O).

The call graph is learned from the callers' client metrics (an edge appears when calls are
seen and ages out when none are), never written by hand. A caller's latency or error anomaly is
a victim of a callee when the calls to that callee move with it (failures, timeouts, or most of
the caller's latency spent waiting on it) and the callee is itself in trouble: anomalous,
unreachable, hung, or failing the calls made to it. Several roots are allowed; cycles and
missing data never raise. docs/root-cause.md has the rules and their reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # callgraph.py imports this module's records at run time
    from anomaly_service.callgraph import CallGraph

# Signals a dependency passes on to its callers; a caller's CPU or memory is its own.
PROPAGATING = frozenset({"latency", "error_rate"})


@dataclass(frozen=True)
class AttributionConfig:
    edge_ttl_s: float = 600.0  # an edge with no calls for this long leaves the graph
    min_calls: float = 0.05  # calls/s for an edge sample to count as evidence
    # A callee failing this share of the calls made to it is failing, whatever its own series say
    # (it may have none: gone, or its anomaly not open yet). Above the background noise.
    failure_ratio: float = 0.05
    # Failed calls to the callee amount to at least this share of the caller's own error ratio:
    # the caller fails because the callee does. Relative, because both ratios ramp up together
    # over the same query window and the caller's anomaly opens while they are still low.
    error_share: float = 0.5
    # Waiting on the callee takes at least this share of the caller's p99: the caller is slow
    # because the callee is.
    latency_share: float = 0.5
    # The callee is slow for its callers when the edge's p99 is this many times its normal and
    # at least slow_min_s above it. The normal is learned per edge from samples that are not
    # slow (memory ~1/normal_alpha cycles) once normal_min_samples were seen. Why: a caller
    # scraped just before its callee sees the callee's slowness one cycle before the callee's
    # own anomaly opens (seen on the stack: orders' latency anomaly 5 s before users'), and
    # without this it is not a victim for that cycle, and its restart policy matches.
    slow_factor: float = 3.0
    slow_min_s: float = 0.1
    normal_alpha: float = 0.05
    normal_min_samples: int = 6


@dataclass(frozen=True)
class EdgeSample:
    """One cycle's view of caller -> callee calls (rates per second over the query window)."""

    caller: str
    callee: str
    calls: float
    failures: float = 0.0  # 5xx answers and calls with no answer
    timeouts: float = 0.0
    p99: float | None = None  # seconds, None when no calls finished

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.calls if self.calls > 0 else 0.0


@dataclass(frozen=True)
class ServiceHealth:
    """What the detector says of one service this cycle."""

    service: str
    opened: Mapping[str, float] = field(default_factory=dict)  # open anomaly metric -> opened_at
    down: bool = False  # unreachable or hung (probe failing, replicas down, no data)
    latency: float | None = None  # the service's own p99, seconds
    error_rate: float | None = None  # the service's own error ratio

    @property
    def troubled(self) -> bool:
        return self.down or bool(self.opened)

    @property
    def first_opened(self) -> float | None:
        return min(self.opened.values()) if self.opened else None


@dataclass(frozen=True)
class Cause:
    """Why a caller's anomaly is attributed to one callee: the evidence shown to humans."""

    callee: str
    signal: str  # edge_failures | edge_timeouts | edge_latency
    value: float  # failure ratio, timeouts/s or the callee's p99 (s), by signal
    callee_state: str  # down | anomalous | failing_its_callers | slow_for_its_callers
    caller_opened_at: float | None
    callee_opened_at: float | None

    @property
    def opened_first(self) -> str:
        caller, callee = self.caller_opened_at, self.callee_opened_at
        if caller is None or callee is None:
            return "unknown"
        return "callee" if callee < caller else "caller" if caller < callee else "same"

    def to_dict(self) -> dict[str, object]:
        return {
            "callee": self.callee,
            "signal": self.signal,
            "value": self.value,
            "callee_state": self.callee_state,
            "caller_opened_at": self.caller_opened_at,
            "callee_opened_at": self.callee_opened_at,
            "opened_first": self.opened_first,
        }


@dataclass(frozen=True)
class Attribution:
    service: str
    caused_by: tuple[Cause, ...] = ()
    root_causes: tuple[str, ...] = ()  # services at the end of the caused_by chains

    @property
    def caused_by_dependency(self) -> bool:
        return bool(self.caused_by)

    def to_dict(self) -> dict[str, object]:
        return {
            "service": self.service,
            "caused_by": [c.callee for c in self.caused_by],
            "root_causes": list(self.root_causes),
            "evidence": [c.to_dict() for c in self.caused_by],
        }


def _edge_evidence(
    sample: EdgeSample, caller: ServiceHealth, config: AttributionConfig
) -> tuple[str, float] | None:
    """The edge signal that moves with the caller's open propagating anomalies, if any."""
    if sample.calls < config.min_calls:
        return None
    if sample.timeouts > 0:
        return "edge_timeouts", sample.timeouts
    if "error_rate" in caller.opened and sample.failure_ratio >= max(
        config.failure_ratio, config.error_share * (caller.error_rate or 0.0)
    ):
        return "edge_failures", sample.failure_ratio
    if (
        "latency" in caller.opened
        and sample.p99 is not None
        and caller.latency is not None
        and caller.latency > 0
        and sample.p99 >= config.latency_share * caller.latency
    ):
        return "edge_latency", sample.p99
    return None


def _callee_state(
    callee: ServiceHealth | None, sample: EdgeSample, graph: CallGraph, config: AttributionConfig
) -> str | None:
    if callee is not None and callee.down:
        return "down"
    if callee is not None and callee.opened:
        return "anomalous"
    if sample.failure_ratio >= config.failure_ratio or sample.timeouts > 0:
        return "failing_its_callers"
    if graph.slow(sample, config):
        return "slow_for_its_callers"
    return None


def _direct_causes(
    health: Mapping[str, ServiceHealth],
    graph: CallGraph,
    samples: Mapping[tuple[str, str], EdgeSample],
    config: AttributionConfig,
) -> dict[str, tuple[Cause, ...]]:
    causes: dict[str, tuple[Cause, ...]] = {}
    for name, caller in health.items():
        own = [m for m in caller.opened if m in PROPAGATING]
        if not own:
            continue
        opened_at = min(caller.opened[m] for m in own)
        found = []
        for callee_name in graph.callees(name):
            sample = samples.get((name, callee_name))
            if sample is None:  # no data on this edge this cycle: no evidence either way
                continue
            evidence = _edge_evidence(sample, caller, config)
            callee = health.get(callee_name)
            state = _callee_state(callee, sample, graph, config)
            if evidence is None or state is None:
                continue
            callee_opened = callee.first_opened if callee is not None else None
            found.append(Cause(callee_name, *evidence, state, opened_at, callee_opened))
        if found:
            causes[name] = tuple(found)
    return _break_cycles(causes)


def _reaches(start: str, target: str, causes: Mapping[str, tuple[Cause, ...]]) -> bool:
    seen, frontier = {start}, [start]
    while frontier:
        for cause in causes.get(frontier.pop(), ()):
            if cause.callee == target:
                return True
            if cause.callee not in seen:
                seen.add(cause.callee)
                frontier.append(cause.callee)
    return False


def _break_cycles(causes: dict[str, tuple[Cause, ...]]) -> dict[str, tuple[Cause, ...]]:
    """Services blaming each other round a cycle (A calls B calls A): a blame on the cycle is
    kept only where the callee's trouble started strictly first, so every cycle breaks; at the
    same moment nobody is a victim (all stay roots, all remediated)."""
    kept: dict[str, tuple[Cause, ...]] = {}
    for caller, found in causes.items():
        keep = tuple(
            c for c in found if c.opened_first == "callee" or not _reaches(c.callee, caller, causes)
        )
        if keep:
            kept[caller] = keep
    return kept


def _roots(start: str, causes: Mapping[str, tuple[Cause, ...]]) -> tuple[str, ...]:
    """Follow caused_by to the services that have none (causes are acyclic by now)."""
    roots: set[str] = set()
    seen = {start}
    frontier = [c.callee for c in causes.get(start, ())]
    while frontier:
        node = frontier.pop()
        if node in seen:
            continue
        seen.add(node)
        upstream = causes.get(node, ())
        if not upstream:
            roots.add(node)
        frontier.extend(c.callee for c in upstream)
    return tuple(sorted(roots))


def attribute(
    health: Mapping[str, ServiceHealth],
    graph: CallGraph,
    samples: Iterable[EdgeSample],
    config: AttributionConfig | None = None,
) -> dict[str, Attribution]:
    """One Attribution per service in `health`; victims name their causes and roots."""
    config = config or AttributionConfig()
    by_edge = {(s.caller, s.callee): s for s in samples}
    causes = _direct_causes(health, graph, by_edge, config)
    return {
        name: Attribution(
            name, causes.get(name, ()), _roots(name, causes) if name in causes else ()
        )
        for name in health
    }
