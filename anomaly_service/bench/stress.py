"""A seeded, synthetic NAB-layout stress corpus of the kinds of data nab-dev lacks.

nab-dev has no tweet counts, traffic sensors or known-cause system metrics, and the real files
of those categories are not in the team's hands. This writes look-alikes (not reconstructions:
every series is generated from a few stated rules) so that an onset rule can be checked on the
failure modes issue 16 names: bursty heavy-tailed counts with a daily cycle, a large event in
the unscored probation that must not mute later windows, noisy sensors with step changes, and
seasonal demand. Windows follow NAB's convention: 10 % of the file split over its anomalies,
centred on each anomaly's start. `bench nab --data DIR/data --windows DIR/windows.json` scores it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

_START = np.datetime64("2026-01-01T00:00:00")
_DAY = 288  # 5-minute rows per day


def _daily(n: int, rng: np.random.Generator, period: int = _DAY) -> np.ndarray:
    return np.sin(2 * np.pi * (np.arange(n) / period + rng.uniform()))


def tweets(rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """5-minute mention counts: daily cycle, negative-binomial noise, a burst of ordinary
    (Pareto) size most days, one huge burst in the probation, three anomalous surges."""
    n = 15800
    rate = rng.uniform(5, 40) * (1.0 + 0.6 * _daily(n, rng))
    x = rng.negative_binomial(4, 4 / (4 + rate)).astype(float)
    for start in rng.integers(0, n - 20, n // _DAY):  # ordinary bursts: seen every day
        x[start : start + rng.integers(2, 8)] += rate.mean() * (1 + rng.pareto(2.5))
    x[rng.integers(200, 700) : None][:6] += rate.mean() * 40  # unscored, but remembered
    onsets = sorted(rng.choice(np.arange(2000, n - 500, 1500), 3, replace=False).tolist())
    for at in onsets:
        length = int(rng.integers(20, 60))
        x[at : at + length] += rate.mean() * rng.uniform(4, 8) * np.linspace(1, 0.3, length)
    return x, onsets


def traffic(rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """Sensor speed: noisy AR(1) around a daily cycle, short dropouts, then a step change
    (a lane closure) and a sharp dip."""
    n = 2500
    e = np.zeros(n)
    noise = rng.normal(0, 3, n)
    for t in range(1, n):
        e[t] = 0.6 * e[t - 1] + noise[t]
    x = 60 + 8 * _daily(n, rng) + e
    for start in rng.integers(0, n - 5, 6):  # ordinary short dips
        x[start : start + 2] -= rng.uniform(8, 15)
    step, dip = int(rng.integers(700, 1300)), int(rng.integers(1700, 2300))
    x[step : step + int(rng.integers(150, 400))] -= rng.uniform(18, 28)
    x[dip : dip + 8] -= 35
    return np.maximum(x, 0.0), [step, dip]


def machine(rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """Known-cause system metric: smooth temperature with a daily cycle, a slow pre-failure
    ramp, a failure drop, and a late spike."""
    n = int(rng.integers(4000, 12000))
    e = np.cumsum(rng.normal(0, 0.15, n)) * 0.1
    x = 80 + 3 * _daily(n, rng) + e + rng.normal(0, 0.5, n)
    fail = int(rng.integers(n // 3, n // 2))
    x[fail - 200 : fail] += np.linspace(0, 4, 200)
    x[fail : fail + 300] -= 25
    late = int(rng.integers(2 * n // 3, n - 300))
    x[late : late + 10] += 9
    return x, [fail - 200, late]


def demand(rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """Taxi-like demand: daily and weekly seasonality, a holiday (one low day), a storm."""
    n = 10320
    week = 7 * _DAY
    base = 15000 * (1 + 0.7 * _daily(n, rng) + 0.15 * _daily(n, rng, week))
    x = base * (1 + rng.normal(0, 0.05, n))
    holiday = int(rng.integers(3000, 5000))
    x[holiday : holiday + _DAY] *= 0.55
    storm = int(rng.integers(7000, 9500))
    x[storm : storm + 30] *= 1.8
    return x, [holiday, storm]


KINDS: dict[str, tuple[Callable[[np.random.Generator], tuple[np.ndarray, list[int]]], int]] = {
    "stressTweets": (tweets, 6),
    "stressTraffic": (traffic, 6),
    "stressKnownCause": (machine, 4),
    "stressDemand": (demand, 2),
}


def write_corpus(out: Path, seed: int = 16) -> int:
    """Write `out/data/<category>/<file>.csv` and `out/windows.json`; returns files written."""
    rng = np.random.default_rng(seed)
    windows: dict[str, list[list[str]]] = {}
    count = 0
    for cat, (make, files) in KINDS.items():
        for k in range(files):
            x, onsets = make(rng)
            name = f"{cat}/{cat[6:].lower()}_{k}.csv"
            stamps = _START + np.arange(x.size) * np.timedelta64(5, "m")
            half = max(1, int(0.1 * x.size / len(onsets)) // 2)
            windows[name] = [
                [str(stamps[max(0, a - half)]), str(stamps[min(x.size - 1, a + half)])]
                for a in onsets
            ]
            path = out / "data" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = [f"{s},{v:.4f}" for s, v in zip(stamps.astype(str), x, strict=True)]
            path.write_text("timestamp,value\n" + "\n".join(lines) + "\n")
            count += 1
    (out / "windows.json").write_text(json.dumps(windows, indent=1))
    return count
