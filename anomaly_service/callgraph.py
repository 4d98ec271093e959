"""The call graph learned from client metrics: caller -> callee edges and each edge's normal p99."""

from __future__ import annotations

from collections.abc import Iterable

from anomaly_service.attribution import AttributionConfig, EdgeSample


class CallGraph:
    """caller -> callee edges, each kept while calls were seen within `ttl_s`."""

    def __init__(self, ttl_s: float = AttributionConfig.edge_ttl_s) -> None:
        self.ttl_s = ttl_s
        self._last_seen: dict[tuple[str, str], float] = {}
        # edge -> (normal p99 in seconds, samples learned)
        self._normal_p99: dict[tuple[str, str], tuple[float, int]] = {}

    def observe(self, now: float, samples: Iterable[EdgeSample], min_calls: float = 0.0) -> None:
        for s in samples:
            if s.calls > min_calls and s.caller != s.callee:
                self._last_seen[(s.caller, s.callee)] = now
        for edge, seen in list(self._last_seen.items()):
            if now - seen > self.ttl_s:
                del self._last_seen[edge]
                self._normal_p99.pop(edge, None)

    def learn_p99(self, samples: Iterable[EdgeSample], config: AttributionConfig) -> None:
        """Learn each edge's normal p99 from this cycle's samples that are not slow (call it
        after judging the cycle: a sample is judged against the normal it is not part of)."""
        for s in samples:
            edge = (s.caller, s.callee)
            if s.calls < config.min_calls or s.p99 is None or not s.p99 >= 0:
                continue
            if self.slow(s, config):
                continue
            normal, count = self._normal_p99.get(edge, (s.p99, 0))
            rate = max(config.normal_alpha, 1.0 / (count + 1))
            self._normal_p99[edge] = (normal + rate * (s.p99 - normal), count + 1)

    def slow(self, sample: EdgeSample, config: AttributionConfig) -> bool:
        """The edge's p99 is far above the normal learned for it."""
        normal, count = self._normal_p99.get((sample.caller, sample.callee), (0.0, 0))
        return (
            count >= config.normal_min_samples
            and sample.p99 is not None
            and sample.p99 >= config.slow_factor * normal
            and sample.p99 - normal >= config.slow_min_s
        )

    def edges(self) -> set[tuple[str, str]]:
        return set(self._last_seen)

    def callees(self, caller: str) -> list[str]:
        return sorted(callee for c, callee in self._last_seen if c == caller)
