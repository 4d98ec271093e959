"""Onset rule "rest": calibrated tail probability, rest period, breakthrough, recurrence gate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from anomaly_service.detector import DetectorConfig, Direction, SeriesBank, score_series

REST = DetectorConfig(onset_rule="rest", consensus=False)  # the rule alone
# the same rest and breakthrough on a rank p-value
CONF = DetectorConfig(onset_rule="conformal", consensus=False)
CALIBRATED = pytest.mark.parametrize("cfg", [REST, CONF], ids=["rest", "conformal"])
GATED = replace(REST, rest_gate=True)
NO_GATE = REST


def noise(n: int, seed: int = 11) -> np.ndarray:
    return 100.0 + np.random.default_rng(seed).normal(0.0, 1.0, n)


def q_of(likelihood: np.ndarray) -> np.ndarray:
    """The calibrated -log10 p behind `likelihood = q / (q + likelihood_scale)`."""
    return REST.likelihood_scale * likelihood / (1.0 - likelihood)


def test_default_rule_is_conformal_and_the_rule_is_validated() -> None:
    assert DetectorConfig().onset_rule == "conformal"
    with pytest.raises(ValueError, match="onset_rule must be 'peak', 'rest' or 'conformal'"):
        DetectorConfig(onset_rule="sometimes")
    assert not REST.rest_gate  # the recurrence gate is an option (it lowers nab-dev LOCO)


def test_calibration_false_positive_rate_matches_the_threshold() -> None:
    # On noise (Gaussian and Student-t 3), the share of points with q >= -log10(p) is p:
    # tolerance +-20% at p = 0.1 and a factor 2 at p = 0.01 (measured 0.013-0.015).
    rng = np.random.default_rng(1)
    series = 16
    for data in (rng.normal(0.0, 1.0, (series, 3000)), rng.standard_t(3, (series, 3000))):
        bank = SeriesBank(REST, capacity=series)
        slots = np.array([bank.slot(k, Direction.BOTH, None) for k in range(series)])
        lik = np.array([bank.update(slots, 100.0 + data[:, t]).likelihood for t in range(3000)])
        q = q_of(lik[800:])
        assert 0.08 <= (q >= 1.0).mean() <= 0.12
        assert 0.005 <= (q >= 2.0).mean() <= 0.02


@CALIBRATED
def test_rest_period_mutes_a_repeat_within_it(cfg: DetectorConfig) -> None:
    x = noise(1000)
    x[600:603] += 12.0
    x[640:643] += 12.0  # the same fault again, 40 points later: inside the 75-point rest
    rested = score_series(x, cfg)
    assert rested.onset[600:603].max() > 0.3
    assert rested.onset[603 : 600 + cfg.rest_points].max() == 0.0
    # without a rest period (and no recurrence gate) the repeat is reported
    free = score_series(x, replace(cfg, rest_points=0))
    assert free.onset[640:643].max() > 0.0


@CALIBRATED
def test_breakthrough_reports_a_level_shift_inside_a_rest_at_once(cfg: DetectorConfig) -> None:
    x = noise(1000)
    x[600:603] += 8.0  # a modest spike starts a rest...
    x[650:] += 60.0  # ...and a much larger level shift starts inside it
    res = score_series(x, cfg)
    assert res.onset[600:603].max() > 0.0
    assert res.onset[650:652].max() > res.onset[600:603].max()
    # the shift's continuation is quiet (a new rest started at the breakthrough), and after
    # the rest the new level is no alarm (q < alarm_q: the onset stays below q = 3)
    assert res.onset[660 : 650 + cfg.rest_points].max() == 0.0
    alarm = cfg.alarm_q / (cfg.alarm_q + cfg.likelihood_scale)
    assert res.onset[650 + cfg.rest_points + 1 : 1000].max() < alarm
    # without the breakthrough rule the rest would mute the shift
    muted = score_series(x, replace(cfg, breakthrough_q=1e9))
    assert muted.onset[650 : 600 + cfg.rest_points].max() == 0.0


def test_recurrence_gate_mutes_a_weaker_repeat_after_the_rest() -> None:
    x = noise(1400)
    x[600:603] += 30.0  # a strong alarm
    x[800:803] += 7.0  # after the rest (75 points), a much weaker event
    gated = score_series(x, GATED)
    free = score_series(x, REST)
    assert gated.onset[600:603].max() > 0.3
    assert gated.onset[800:803].max() == 0.0
    assert free.onset[800:803].max() > 0.0


def bursty(seed: int) -> np.ndarray:
    """Noise with a burst of 6-10 sd every ~130 points (the series' ordinary weather) and
    one burst of 40 sd at 3500."""
    rng = np.random.default_rng(seed)
    x = noise(4000, seed)
    for at in rng.integers(100, 3400, 30):
        x[at : at + 3] += rng.uniform(6.0, 10.0)
    x[3500:3504] += 40.0
    return x


@pytest.mark.parametrize("seed", [3, 4])
def test_calibration_learns_a_series_ordinary_bursts(seed: int) -> None:
    x = bursty(seed)
    # rule peak: likelihood = lq / (lq + 5), the uncalibrated tail
    raw = score_series(x, DetectorConfig(onset_rule="peak", consensus=False))
    cal = score_series(x, REST)
    lq, q = q_of(raw.likelihood[1000:3450]), q_of(cal.likelihood[1000:3450])
    # Bursts of a size the series shows every few hours reach p <= 0.001 far less often
    # once calibrated (measured 11 against 57 points on seed 3)...
    assert (q >= REST.alarm_q).sum() * 3 <= (lq >= REST.alarm_q).sum()
    # ...while a burst far beyond them is still an alarm (p <= 0.0001), reported at once.
    assert q_of(cal.likelihood[3500:3504]).max() >= REST.alarm_q + 1.0
    assert cal.onset[3500:3504].max() > 0.5
