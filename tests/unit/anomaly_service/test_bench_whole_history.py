"""The consensus tier's bounded state against its tests recomputed over the whole history."""

from __future__ import annotations

import numpy as np

from anomaly_service.bench import whole_history
from anomaly_service.detector import DetectorConfig, score_many
from anomaly_service.detector.consensus import ALARM_SCORE

CFG = DetectorConfig()


def _series(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 20.0 + 0.002 * np.arange(900) + rng.normal(0.0, 1.0, 900)
    x[300:303] += 9.0  # a burst
    x[520:560] -= 7.0  # a dip, 18 h later
    x[780:] += 12.0  # a level shift
    return x


def test_the_tier_raises_the_alarms_of_the_whole_history_tests() -> None:
    seconds = 300.0 * np.arange(900)
    series = [_series(seed) for seed in range(4)]
    tier = score_many(series, CFG, times=[seconds] * 4)
    for x, res in zip(series, tier, strict=True):
        ref = np.flatnonzero(whole_history.alarms(seconds, x, CFG))
        got = np.flatnonzero(res.onset >= ALARM_SCORE)
        assert ref.size >= 3  # the burst, the dip and the shift
        # the same alarms, within 3 rows
        assert all(np.abs(got - r).min() <= 3 for r in ref), (ref, got)
        assert all(np.abs(ref - g).min() <= 3 for g in got), (ref, got)


def test_missing_points_are_skipped_by_the_reference() -> None:
    seconds = 300.0 * np.arange(900)
    x = _series(9)
    gappy = x.copy()
    gappy[[100, 301, 600]] = np.nan
    ref = whole_history.alarms(seconds, gappy, CFG)
    assert not ref[[100, 301, 600]].any()
    assert ref.any()
