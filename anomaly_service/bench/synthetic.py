"""Synthetic quality benchmark: generated anomalies of known type, position and length."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from anomaly_service.detector import DetectorConfig, Direction, SeriesBank

POINTS_PER_DAY = 17_280  # one point per 5 s
LEVEL = 100.0
SIGMA = 2.0


@dataclass(frozen=True)
class AnomalyCase:
    """One anomaly type: how to inject it into noise from `start` for `length` points."""

    name: str
    length: int
    inject: Callable[[np.ndarray, int, int, np.random.Generator], None]


def _spike(x: np.ndarray, start: int, length: int, rng: np.random.Generator) -> None:
    x[start : start + length] += 8.0 * SIGMA


def _small_spike(x: np.ndarray, start: int, length: int, rng: np.random.Generator) -> None:
    x[start : start + length] += 5.0 * SIGMA


def _shift(x: np.ndarray, start: int, length: int, rng: np.random.Generator) -> None:
    x[start : start + length] += 6.0 * SIGMA


def _small_shift(x: np.ndarray, start: int, length: int, rng: np.random.Generator) -> None:
    x[start : start + length] -= 4.0 * SIGMA


def _drift(x: np.ndarray, start: int, length: int, rng: np.random.Generator) -> None:
    # ramp to +12 sd over the span (0.03 sd per point), then the signal returns
    x[start : start + length] += np.linspace(0.0, 12.0 * SIGMA, length)


def _variance(x: np.ndarray, start: int, length: int, rng: np.random.Generator) -> None:
    x[start : start + length] = LEVEL + rng.normal(0.0, 5.0 * SIGMA, length)


def _zero(x: np.ndarray, start: int, length: int, rng: np.random.Generator) -> None:
    x[start : start + length] = 0.0


CASES: tuple[AnomalyCase, ...] = (
    AnomalyCase("spike (3 points, +8 sd)", 3, _spike),
    AnomalyCase("spike (3 points, +5 sd)", 3, _small_spike),
    AnomalyCase("level shift (+6 sd, 300 points)", 300, _shift),
    AnomalyCase("level shift (-4 sd, 300 points)", 300, _small_shift),
    AnomalyCase("drift (to +12 sd over 400 points)", 400, _drift),
    AnomalyCase("variance x5 (300 points)", 300, _variance),
    AnomalyCase("drop to zero (100 points)", 100, _zero),
)


@dataclass(frozen=True)
class CaseResult:
    name: str
    series: int
    recall: float  # share of anomalies during which an alert opened
    precision: float  # share of opened alerts that overlap an anomaly (+ close grace)
    point_recall: float  # share of anomalies with at least one non-normal point level
    median_delay: float | None  # points from anomaly start to the alert opening
    alerts: int


@dataclass(frozen=True)
class NoiseResult:
    name: str
    series_days: float
    false_alerts: int

    @property
    def per_series_day(self) -> float:
        return self.false_alerts / self.series_days


def _run_bank(data: np.ndarray, config: DetectorConfig) -> tuple[np.ndarray, np.ndarray]:
    """Stream a (series, T) matrix through one bank; returns (open, level) matrices."""
    bank = SeriesBank(config, capacity=data.shape[0])
    slots = np.array([bank.slot(k, Direction.BOTH, None) for k in range(data.shape[0])])
    opened = np.zeros(data.shape, dtype=bool)
    level = np.zeros(data.shape, dtype=np.int8)
    for t in range(data.shape[1]):
        v = bank.update(slots, data[:, t])
        opened[:, t] = v.open
        level[:, t] = v.level
    return opened, level


def _onsets(opened: np.ndarray) -> list[np.ndarray]:
    """Indices where an alert opened, per series."""
    padded = np.concatenate([np.zeros((opened.shape[0], 1), dtype=bool), opened], axis=1)
    starts = padded[:, 1:] & ~padded[:, :-1]
    return [np.flatnonzero(row) for row in starts]


def _score_case(
    name: str,
    opened: np.ndarray,
    level: np.ndarray,
    starts: np.ndarray,
    length: int,
    grace: int,
    counted_from: int = 0,
) -> CaseResult:
    """Each series' alert onsets against its anomaly [start, start + length): an onset inside
    it, or up to `grace` points after, is a hit; onsets before `counted_from` are not counted."""
    series = len(starts)
    hits, delays, alerts, good, point_hits = 0, [], 0, 0, 0
    for row, opens in enumerate(_onsets(opened)):
        a = int(starts[row])
        b = a + length
        counted = opens[opens >= counted_from]
        inside = counted[(counted >= a) & (counted < b + grace)]
        alerts += counted.size
        good += inside.size
        if inside.size:
            hits += 1
            delays.append(int(inside[0]) - a)
        if (level[row, a : b + grace] > 0).any():
            point_hits += 1
    return CaseResult(
        name,
        series,
        hits / series,
        good / alerts if alerts else 1.0,
        point_hits / series,
        float(np.median(delays)) if delays else None,
        alerts,
    )


def run_cases(
    config: DetectorConfig, series: int = 40, length: int = 3000, seed: int = 20261121
) -> list[CaseResult]:
    out = []
    if length < 2 * max(c.length for c in CASES) + 100:
        raise ValueError("length is too short for the longest anomaly")
    for ci, case in enumerate(CASES):
        rng = np.random.default_rng(seed + ci)
        data = LEVEL + rng.normal(0.0, SIGMA, (series, length))
        starts = rng.integers(length // 3, length // 2, series)
        for row in range(series):
            case.inject(data[row], int(starts[row]), case.length, rng)
        opened, level = _run_bank(data, config)
        # an alert that opens within the anomaly, or up to a short grace after it, is a hit
        grace = config.open_after + config.close_after
        out.append(_score_case(case.name, opened, level, starts, case.length, grace))
    return out


def run_noise(
    config: DetectorConfig, series: int = 24, days: float = 1.0, seed: int = 7
) -> list[NoiseResult]:
    """False alerts on anomaly-free series: Gaussian (the target), plus harder noises."""
    length = int(days * POINTS_PER_DAY)
    rng = np.random.default_rng(seed)
    gauss = LEVEL + rng.normal(0.0, SIGMA, (series, length))
    heavy = LEVEL + SIGMA * rng.standard_t(5, (series, length)) / np.sqrt(5.0 / 3.0)
    ar = np.empty((series, length))
    eps = rng.normal(0.0, SIGMA * np.sqrt(1 - 0.8**2), (series, length))
    ar[:, 0] = 0.0
    for t in range(1, length):
        ar[:, t] = 0.8 * ar[:, t - 1] + eps[:, t]
    ar += LEVEL
    out = []
    for name, data in (
        ("gaussian", gauss),
        ("student-t (5 dof)", heavy),
        ("AR(1) phi=0.8", ar),
    ):
        opened, _ = _run_bank(data, config)
        count = sum(o.size for o in _onsets(opened))
        out.append(NoiseResult(name, series * days, count))
    return out


DAILY_AMPLITUDE = 10.0 * SIGMA  # the daily cycle's amplitude (a sine, one period a day)
TROUGH_SHIFT = 5.0 * SIGMA  # the anomaly injected at the last day's trough
TROUGH_LENGTH = 20


def daily_cycle(
    rng: np.random.Generator, series: int, length: int, per_day: int = POINTS_PER_DAY
) -> tuple[np.ndarray, np.ndarray]:
    """Noise around a daily sine, `per_day` points a day; returns (data, phases)."""
    t = np.arange(length)
    phase = rng.uniform(0.0, 2 * np.pi, series)
    cycle = DAILY_AMPLITUDE * np.sin(2 * np.pi * t / per_day + phase[:, None])
    return LEVEL + cycle + rng.normal(0.0, SIGMA, (series, length)), phase


def run_daily(
    config: DetectorConfig,
    series: int = 24,
    days: float = 3.0,
    seed: int = 17,
    per_day: int = POINTS_PER_DAY,
) -> tuple[NoiseResult, CaseResult]:
    """A daily cycle (amplitude 10 sd, one point per 5 s): false alerts per series-day on
    clean series, and detection of a +5 sd, 20-point anomaly at the last day's trough.
    (`per_day` shortens the day for tests only.)"""
    length = int(days * per_day)
    rng = np.random.default_rng(seed)
    clean, _ = daily_cycle(rng, series, length, per_day)
    opened, _ = _run_bank(clean, config)
    false_alerts = sum(o.size for o in _onsets(opened))
    noise = NoiseResult("daily cycle (10 sd)", series * days, false_alerts)
    # the trough of sin(2 pi t / day + phase) is where the angle is 3 pi / 2 (mod 2 pi)
    data, phase = daily_cycle(rng, series, length, per_day)
    last_day = (int(days) - 1) * per_day
    starts = (last_day + ((1.5 * np.pi - phase) % (2 * np.pi)) / (2 * np.pi) * per_day).astype(int)
    starts = np.minimum(starts, length - TROUGH_LENGTH - 10)
    for row in range(series):
        data[row, starts[row] : starts[row] + TROUGH_LENGTH] += TROUGH_SHIFT
    opened, level = _run_bank(data, config)
    grace = config.open_after + config.close_after
    name = f"daily cycle: +5 sd, {TROUGH_LENGTH} pts at trough"
    # alerts of the last day only
    case = _score_case(name, opened, level, starts, TROUGH_LENGTH, grace, counted_from=last_day)
    return noise, case
