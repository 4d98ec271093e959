"""The synthetic benchmark's daily cycle (a short 'day' so the test runs in seconds)."""

from __future__ import annotations

import numpy as np

from anomaly_service.bench import synthetic
from anomaly_service.detector import DetectorConfig


def test_daily_cycle_reports_false_alerts_and_the_trough_anomaly() -> None:
    # A 1,500-point "day" is 11x steeper than the real one (17,280 points at 5 s), so false
    # alerts are not asserted here: `bench synthetic` measures them on the real day.
    noise, case = synthetic.run_daily(DetectorConfig(), series=2, days=2, per_day=1500)
    assert noise.series_days == 4
    assert noise.false_alerts >= 0
    assert case.series == 2
    assert 0.0 <= case.recall <= 1.0
    assert case.alerts >= 0


def test_daily_cycle_shape() -> None:
    data, phase = synthetic.daily_cycle(np.random.default_rng(1), 2, 400, per_day=400)
    trough = ((1.5 * np.pi - phase) % (2 * np.pi)) / (2 * np.pi) * 400
    for row in range(2):  # the lowest point of each series is near its computed trough
        assert abs(int(np.argmin(data[row])) - trough[row]) < 40
