"""Holes in Prometheus' scrapes, and which scrapes the detector has already seen.

A hole (Prometheus down or restarted, scrapes stalled, the engine's own start, a new target)
leaves a query's window partly empty for a while: a series it misses then is not gone, so its
absence does not count toward no_data until the scrapes resume and the window has passed
(docs/anomaly-service.md). Pure state over the scrape times each cycle reads; the engine owns
one ScrapeWatch.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from anomaly_service.metrics import ServiceMetrics

log = logging.getLogger("anomaly_service.engine")  # the cycle's own log: one place to read

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


class ScrapeWatch:
    """Per service: the newest scrape the detector consumed, its scrape spacing, and its gap."""

    def __init__(
        self, metrics: ServiceMetrics, windows: dict[str, float], check_interval: float
    ) -> None:
        self.metrics = metrics
        # How far back each catalog query reads; after a hole, no_data waits this long.
        self.windows = windows
        self.max_window = max(windows.values(), default=0.0)
        self.check_interval = check_interval
        # service -> timestamp of the newest scrape whose values the detector has consumed
        self.consumed: dict[str, float] = {}
        self.gaps: dict[str, ScrapeGap] = {}
        self.hole: str | None = "engine_start"  # a hole not yet turned into per-service gaps
        self.first_resume: float | None = None  # engine time a service first resumed after it
        self.prometheus_started: str | None = None
        # service -> the last few advances of its newest scrape time (its scrape spacing as
        # the cycles see it), and whether every service's scrapes are overdue right now.
        self.spacing: dict[str, deque[float]] = {}
        self.stalled = False

    def track(
        self,
        ts: float,
        scraped: dict[str, float],
        new_targets: dict[str, float],
        started: str | None,
        known: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        """Turn holes in the scrapes into per-service gaps and follow each until it is over.

        A hole: cycles that could not reach Prometheus, a Prometheus restart the cycles did not
        see (its start time changed), scrapes overdue for every service at once (Prometheus
        answers but does not scrape: a restart on a server that does not tell its start time),
        or the engine's own start. Every service gets a gap that resumes at its first scrape
        newer than the one seen before the hole. A target Prometheus did not have in the
        previous cycle opens a gap resumed at its first scrape. `known`: the services of the
        tracked series (gapped too, scraped or not), asked only when there is a hole."""
        if started is not None:
            if self.prometheus_started is not None and started != self.prometheus_started:
                log.warning("Prometheus restarted (start time %s)", started)
                self.hole = self.hole or "prometheus_restart"
            self.prometheus_started = started
        # Where the start time tells restarts, overdue scrapes are not needed: all services hung
        # at once (failed scrapes written a timeout late) must not pass for a hole there.
        self._watch_stall(ts, scraped, tell=self.prometheus_started is None)
        if self.hole is not None:
            self._open_gaps(ts, scraped, self.hole, known)
        for service, at in new_targets.items():
            gap = self.gaps.get(service)
            if gap is None or (gap.resumed_at is not None and gap.resumed_at < at):
                self.metrics.scrape_gaps.labels("new_target").inc()
                self.gaps[service] = ScrapeGap(-math.inf, ts, at)
        self._follow_gaps(ts, scraped)

    def _open_gaps(
        self, ts: float, scraped: dict[str, float], hole: str, known: Callable[[], Iterable[str]]
    ) -> None:
        """A hole: every service gets a gap that ends now."""
        self.metrics.scrape_gaps.labels(hole).inc()
        services = set(scraped) | set(known())
        for service in services:
            # The newest scrape Prometheus has now may still be from before the hole (it
            # answers before it scrapes again): only a newer one shows scraping resumed.
            before = max(
                self.consumed.get(service, -math.inf),
                scraped.get(service, -math.inf),
            )
            self.gaps[service] = ScrapeGap(before, ts)
        self.hole, self.first_resume = None, None

    def _follow_gaps(self, ts: float, scraped: dict[str, float]) -> None:
        """A gap resumes at its service's first newer scrape, and ends once every window
        read after that is whole again."""
        for service, gap in list(self.gaps.items()):
            if gap.resumed_at is None:
                newest = scraped.get(service)
                if newest is None:
                    # No scrape times for it (a catalog on another job, or a target gone):
                    # nothing to wait for but the windows from now.
                    gap.resumed_at = gap.ended_at
                elif newest > gap.before:
                    gap.resumed_at = newest
                    if self.first_resume is None:
                        self.first_resume, self.stalled = ts, False
                elif ts - gap.ended_at > LOOKBACK_S:
                    del self.gaps[service]  # never scraped again: its absence is real
            elif ts >= gap.resumed_at + self.max_window:
                del self.gaps[service]  # every window is whole again

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
            spacing = self.spacing.setdefault(service, deque(maxlen=4))
            advance = at - self.consumed.get(service, math.inf)
            if advance > 0:
                spacing.append(advance)
            if spacing:
                overdue.append(ts - at > 2 * min(spacing))
        if overdue and all(overdue):
            if tell and not self.stalled and self.hole is None:
                log.warning("no service scraped for a while: a hole in the scrapes")
                self.hole = "scrapes_stalled"
            self.stalled = True
        elif not any(overdue):
            self.stalled = False

    def held(self, service: str, metric: str, ts: float) -> bool:
        """Whether the series' query may still miss it because of a hole in the scrapes."""
        gap = self.gaps.get(service)
        if gap is None:
            return False
        if gap.resumed_at is None:
            # Not scraped since the hole. While no service is, Prometheus is not scraping yet
            # (2.x waits ~5 s after its start); once one is, the others get the longest window
            # and one cycle to follow, then this one's absence is real.
            return (
                self.first_resume is None
                or ts - self.first_resume <= self.max_window + self.check_interval
            )
        return ts < gap.resumed_at + self.windows.get(metric, self.max_window)

    def unchanged(self, scraped: dict[str, float]) -> tuple[set[str], set[str]]:
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
            consumed = self.consumed.get(service, -math.inf)
            if at < consumed:
                unchanged.add(service)
                behind.add(service)
            elif at == consumed:
                unchanged.add(service)
                self.metrics.repeated_scrapes.inc()
            else:
                self.consumed[service] = at
        return unchanged, behind
