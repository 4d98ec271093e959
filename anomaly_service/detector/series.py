"""Score a whole series offline with the streaming core (POST /detect, benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from anomaly_service.detector.bank import SeriesBank
from anomaly_service.detector.config import DetectorConfig, Direction

_DEFAULT = DetectorConfig()


@dataclass
class SeriesResult:
    """Per-point arrays, one entry per input value (same fields as Verdicts)."""

    baseline: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    score: np.ndarray
    onset: np.ndarray
    likelihood: np.ndarray
    level: np.ndarray
    severity: np.ndarray
    open: np.ndarray
    warming: np.ndarray
    zscore: np.ndarray
    missing: np.ndarray

    def __len__(self) -> int:
        return int(self.score.size)


def score_series(
    values: Sequence[float] | np.ndarray,
    config: DetectorConfig = _DEFAULT,
    direction: Direction = Direction.BOTH,
    floor: float | None = None,
    min_spread: float | None = None,
    times: Sequence[float] | np.ndarray | None = None,
) -> SeriesResult:
    """Feed `values` point by point through a one-slot SeriesBank and collect every verdict.
    `times`: their timestamps in seconds (default: cycle_s apart)."""
    x = np.asarray(values, dtype=float).ravel()
    ts = None if times is None else np.asarray(times, dtype=float).ravel()
    if ts is not None and ts.size != x.size:
        raise ValueError("times must have one entry per value")
    bank = SeriesBank(config, capacity=1)
    slot = np.array([bank.slot("series", direction, floor, min_spread)], dtype=np.intp)
    cols: dict[str, list[np.ndarray]] = {name: [] for name in SeriesResult.__dataclass_fields__}
    for k, value in enumerate(x):
        at = None if ts is None else ts[k : k + 1]
        verdict = bank.update(slot, np.array([value]), at)
        for name in cols:
            cols[name].append(getattr(verdict, name))
    out = {name: (np.concatenate(parts) if parts else np.zeros(0)) for name, parts in cols.items()}
    return SeriesResult(**out)


def score_many(
    series: Sequence[Sequence[float] | np.ndarray],
    config: DetectorConfig = _DEFAULT,
    direction: Direction = Direction.BOTH,
    times: Sequence[Sequence[float] | np.ndarray] | None = None,
) -> list[SeriesResult]:
    """score_series for many series at once: one bank slot each, one update per time step.

    Shorter series are padded with NaN, which the core treats as missing points, so each
    result equals score_series on that series alone. `times`: per series, the points'
    timestamps in seconds (default: cycle_s apart).
    """
    arrays = [np.asarray(s, dtype=float).ravel() for s in series]
    if not arrays:
        return []
    length = max(a.size for a in arrays)
    data = np.full((len(arrays), length), np.nan)
    for row, a in enumerate(arrays):
        data[row, : a.size] = a
    stamps: np.ndarray | None = None
    if times is not None:
        if len(times) != len(arrays):
            raise ValueError("times must have one array per series")
        stamps = np.zeros((len(arrays), length))
        for row, (a, tt) in enumerate(zip(arrays, times, strict=True)):
            tv = np.asarray(tt, dtype=float).ravel()
            if tv.size != a.size:
                raise ValueError(f"series {row}: times must have one entry per value")
            # padding after a short series' end: its last time (a missing point changes
            # nothing but the clock)
            stamps[row, : a.size] = tv
            stamps[row, a.size :] = tv[-1] if tv.size else 0.0
    bank = SeriesBank(config, capacity=len(arrays))
    slots = np.array([bank.slot(k, direction, None) for k in range(len(arrays))], dtype=np.intp)
    names = list(SeriesResult.__dataclass_fields__)
    cols: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for t in range(length):
        verdict = bank.update(slots, data[:, t], None if stamps is None else stamps[:, t])
        for name in names:
            cols[name].append(getattr(verdict, name))
    stacked = {name: np.stack(parts, axis=1) for name, parts in cols.items()}
    return [
        SeriesResult(**{name: stacked[name][row, : a.size] for name in names})
        for row, a in enumerate(arrays)
    ]
