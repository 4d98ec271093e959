"""Throughput benchmark: series-updates per second of SeriesBank.update."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from anomaly_service.detector import DetectorConfig, Direction, SeriesBank


@dataclass(frozen=True)
class ThroughputResult:
    series: int
    cycles: int
    seconds: float
    bytes_per_series: int  # streaming state per series (SeriesBank.bytes_per_series)
    cpu_seconds: float = 0.0  # process CPU time of the timed cycles (less load-dependent)

    @property
    def updates_per_cpu_second(self) -> float:
        return self.series * self.cycles / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    @property
    def updates_per_second(self) -> float:
        return self.series * self.cycles / self.seconds

    @property
    def ms_per_cycle(self) -> float:
        return 1000.0 * self.seconds / self.cycles


def run(
    series: int = 10_000,
    cycles: int = 200,
    seed: int = 1,
    config: DetectorConfig | None = None,
) -> ThroughputResult:
    """Warm every series up (not timed), then time `cycles` updates of all of them."""
    rng = np.random.default_rng(seed)
    bank = SeriesBank(config or DetectorConfig(), capacity=series)
    directions = (Direction.UP, Direction.DOWN, Direction.BOTH)
    slots = np.array(
        [bank.slot(k, directions[k % 3], 150.0 if k % 2 else None) for k in range(series)],
        dtype=np.intp,
    )
    level = rng.uniform(1.0, 1000.0, series)
    for _ in range(40):
        bank.update(slots, level + rng.normal(0.0, 0.05, series) * level)
    values = level + rng.normal(0.0, 0.05, (cycles, series)) * level
    values[rng.random(values.shape) < 0.001] = np.nan  # a few missing points, as in life
    start = time.perf_counter()
    cpu = time.process_time()
    for t in range(cycles):
        bank.update(slots, values[t])
    return ThroughputResult(
        series,
        cycles,
        time.perf_counter() - start,
        bank.bytes_per_series(),
        time.process_time() - cpu,
    )
