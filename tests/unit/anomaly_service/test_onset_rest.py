"""Onset rule "rest": calibrated tail probability, rest period, breakthrough, recurrence gate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from anomaly_service.detector import DetectorConfig, Direction, SeriesBank, score_series

REST = DetectorConfig(onset_rule="rest")
NO_GATE = replace(REST, gate_slack=1e9)


def noise(n: int, seed: int = 11) -> np.ndarray:
    return 100.0 + np.random.default_rng(seed).normal(0.0, 1.0, n)


def q_of(likelihood: np.ndarray) -> np.ndarray:
    """The calibrated -log10 p behind `likelihood = q / (q + likelihood_scale)`."""
    return REST.likelihood_scale * likelihood / (1.0 - likelihood)


def test_default_rule_is_peak_and_rest_is_validated() -> None:
    assert DetectorConfig().onset_rule == "peak"
    with pytest.raises(ValueError):
        DetectorConfig(onset_rule="sometimes")
    assert SeriesBank(DetectorConfig())._cal.shape[1] == 0  # no calibration memory by default


def test_calibration_false_positive_rate_matches_the_threshold() -> None:
    # On noise (Gaussian and Student-t 3), the share of points with q >= -log10(p) is p:
    # tolerance +-20% at p = 0.1 and a factor 2 at p = 0.01 (measured 0.011-0.015).
    rng = np.random.default_rng(1)
    series = 16
    for data in (rng.normal(0.0, 1.0, (series, 3000)), rng.standard_t(3, (series, 3000))):
        bank = SeriesBank(REST, capacity=series)
        slots = np.array([bank.slot(k, Direction.BOTH, None) for k in range(series)])
        lik = np.array([bank.update(slots, 100.0 + data[:, t]).likelihood for t in range(3000)])
        q = q_of(lik[800:])
        assert 0.08 <= (q >= 1.0).mean() <= 0.12
        assert 0.005 <= (q >= 2.0).mean() <= 0.02


def test_rest_period_mutes_a_repeat_within_it() -> None:
    x = noise(1000)
    x[600:603] += 12.0
    x[640:643] += 12.0  # the same fault again, 40 points later: inside the 150-point rest
    rested = score_series(x, REST)
    assert rested.onset[600:603].max() > 0.3
    assert rested.onset[603:750].max() == 0.0
    # without a rest period (and no recurrence gate) the repeat is reported
    free = score_series(x, replace(NO_GATE, rest_points=0))
    assert free.onset[640:643].max() > 0.0


def test_breakthrough_reports_a_level_shift_inside_a_rest_at_once() -> None:
    x = noise(1000)
    x[600:603] += 8.0  # a modest spike starts a rest...
    x[650:] += 60.0  # ...and a much larger level shift starts inside it
    res = score_series(x, REST)
    assert res.onset[600:603].max() > 0.0
    assert res.onset[650:652].max() > res.onset[600:603].max()
    # the shift's continuation is quiet (a new rest started at the breakthrough)
    assert res.onset[660:800].max() == 0.0


def test_recurrence_gate_mutes_a_weaker_repeat_after_the_rest() -> None:
    x = noise(1400)
    x[600:603] += 30.0  # a strong alarm
    x[800:803] += 7.0  # after the rest (150 points), a much weaker event
    gated = score_series(x, REST)
    free = score_series(x, NO_GATE)
    assert gated.onset[600:603].max() > 0.3
    assert gated.onset[800:803].max() == 0.0
    assert free.onset[800:803].max() > 0.0
