"""Cycle cost with many series: `python -m anomaly_service.cyclebench --series 10000`.

Runs the real Engine (catalog handling, detector bank, lifecycle, events) against an in-process
scripted Prometheus, so HTTP and JSON decoding are not included. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import time
from typing import Any

from anomaly_service.catalog import MetricSpec
from anomaly_service.detector import DetectorConfig
from anomaly_service.engine import Engine
from anomaly_service.engine_state import EngineOptions
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.prometheus import RangeSeries, Sample


class ScriptedSource:
    """Answers every query with one noisy value around 1.0 per service."""

    def __init__(self, services: int, seed: int = 1) -> None:
        self.services = [f"svc{i}" for i in range(services)]
        self.rng = random.Random(seed)

    async def query(self, promql: str, at: float | None = None) -> list[Sample]:
        if promql.startswith(("sum by (service) (up", "count by (service) (up")):
            return [Sample({"service": s}, 1.0) for s in self.services]
        if promql.startswith("timestamp("):
            # every service freshly scraped at the cycle's time: each cycle is a new point
            return [Sample({"service": s}, at or 0.0) for s in self.services]
        return [Sample({"service": s}, 1.0 + self.rng.random() * 0.01) for s in self.services]

    async def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[RangeSeries]:
        return []

    async def aclose(self) -> None:
        return None


class NullNotifier:
    def submit(self, payload: dict[str, Any]) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def drain(self, timeout_s: float) -> bool:
        return True

    def stats(self) -> dict[str, Any]:
        return {}


async def run(series: int, metrics: int, cycles: int) -> None:
    specs = [MetricSpec(f"m{i}", f"q{i}", "u", "up", None) for i in range(metrics)]
    now = [1_800_000_000.0]
    engine = Engine(
        specs,
        ScriptedSource(max(1, series // metrics)),
        NullNotifier(),
        lambda: now[0],
        EngineOptions(backfill_window_s=0, series_capacity=series),
        ServiceMetrics(),
        DetectorConfig(),
    )
    durations = []
    for _ in range(cycles):
        now[0] += 5.0
        started = time.perf_counter()
        await engine.run_cycle()
        durations.append(time.perf_counter() - started)
    steady = sorted(durations[min(5, cycles - 1) :])
    median = steady[len(steady) // 2]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"series tracked     {len(engine.tracker.series)}")
    print(f"cycles             {cycles}")
    print(f"cycle median       {median * 1000:.1f} ms")
    print(f"cycle max          {steady[-1] * 1000:.1f} ms")
    print(f"series-updates/s   {len(engine.tracker.series) / median:,.0f} (whole cycle)")
    print(f"peak RSS           {rss_mb:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=6)
    parser.add_argument("--cycles", type=int, default=40)
    args = parser.parse_args()
    if args.series < 1 or args.metrics < 1 or args.cycles < 2:
        parser.error("need --series >= 1, --metrics >= 1, --cycles >= 2")
    asyncio.run(run(args.series, args.metrics, args.cycles))


if __name__ == "__main__":
    main()
