"""Each cycle: replicas up/total, newest scrape and new targets per service; Prometheus' start."""

from __future__ import annotations

import logging
import math

from anomaly_service.prometheus import PrometheusSource, QueryRejected
from anomaly_service.queries import clean_labels

log = logging.getLogger("anomaly_service.engine")  # the cycle's own log: one place to read

Replicas = dict[str, tuple[int, int]]  # service -> (up, total)


async def start_time(source: PrometheusSource) -> str | None:
    """Prometheus' process start time, where the source can tell it (None otherwise)."""
    probe = getattr(source, "start_time", None)
    if probe is None:
        return None
    started = await probe()
    return started if isinstance(started, str) else None


class TargetWatch:
    """The targets of the `up` selector across cycles (the engine owns one)."""

    def __init__(self, selector: str) -> None:
        self.selector = selector
        self._seen: set[tuple[tuple[str, str], ...]] | None = None

    async def read(
        self, source: PrometheusSource, at: float
    ) -> tuple[Replicas, dict[str, float], dict[str, float]] | None:
        """Replicas up/total per service, the time of each service's newest scrape, and the
        targets Prometheus did not have in the previous cycle (service -> their scrape time);
        None when Prometheus rejected one of the queries."""
        selector = self.selector
        try:
            up = await source.query(f"sum by (service) ({selector})", at)
            total = await source.query(f"count by (service) ({selector})", at)
            scrapes = await source.query(f"timestamp({selector})", at)
        except QueryRejected as exc:
            log.error("replica query rejected: %s", exc.reason)
            return None
        counts = {
            s.labels.get("service", ""): int(s.value) for s in total if math.isfinite(s.value)
        }
        ups = {s.labels.get("service", ""): int(s.value) for s in up if math.isfinite(s.value)}
        replicas = {svc: (ups.get(svc, 0), n) for svc, n in counts.items() if svc}
        newest: dict[str, float] = {}
        new: dict[str, float] = {}
        seen = set()
        for sample in scrapes:
            service = sample.labels.get("service")
            if not service or not math.isfinite(sample.value):
                continue
            newest[service] = max(sample.value, newest.get(service, -math.inf))
            target = tuple(sorted(clean_labels(sample.labels).items()))
            seen.add(target)
            if self._seen is not None and target not in self._seen:
                new[service] = max(sample.value, new.get(service, -math.inf))
        self._seen = seen
        return replicas, newest, new
