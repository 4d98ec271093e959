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
) -> SeriesResult:
    """Feed `values` point by point through a one-slot SeriesBank and collect every verdict."""
    x = np.asarray(values, dtype=float).ravel()
    bank = SeriesBank(config, capacity=1)
    slot = np.array([bank.slot("series", direction, floor, min_spread)], dtype=np.intp)
    cols: dict[str, list[np.ndarray]] = {name: [] for name in SeriesResult.__dataclass_fields__}
    for value in x:
        verdict = bank.update(slot, np.array([value]))
        for name in cols:
            cols[name].append(getattr(verdict, name))
    out = {name: (np.concatenate(parts) if parts else np.zeros(0)) for name, parts in cols.items()}
    return SeriesResult(**out)


def score_many(
    series: Sequence[Sequence[float] | np.ndarray],
    config: DetectorConfig = _DEFAULT,
    direction: Direction = Direction.BOTH,
) -> list[SeriesResult]:
    """score_series for many series at once: one bank slot each, one update per time step.

    Shorter series are padded with NaN, which the core treats as missing points, so each
    result equals score_series on that series alone.
    """
    arrays = [np.asarray(s, dtype=float).ravel() for s in series]
    if not arrays:
        return []
    length = max(a.size for a in arrays)
    data = np.full((len(arrays), length), np.nan)
    for row, a in enumerate(arrays):
        data[row, : a.size] = a
    bank = SeriesBank(config, capacity=len(arrays))
    slots = np.array([bank.slot(k, direction, None) for k in range(len(arrays))], dtype=np.intp)
    names = list(SeriesResult.__dataclass_fields__)
    cols: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for t in range(length):
        verdict = bank.update(slots, data[:, t])
        for name in names:
            cols[name].append(getattr(verdict, name))
    stacked = {name: np.stack(parts, axis=1) for name, parts in cols.items()}
    return [
        SeriesResult(**{name: stacked[name][row, : a.size] for name in names})
        for row, a in enumerate(arrays)
    ]
