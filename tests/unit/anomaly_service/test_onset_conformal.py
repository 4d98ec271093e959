"""Onset rule "conformal": a rank-based p-value of the likelihood against a bounded ring buffer
of its recent block maxima, then rest period and breakthrough."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from anomaly_service.detector import DetectorConfig, Direction, SeriesBank, score_many, score_series
from anomaly_service.detector.onset import conformal_p, push_block

CONF = DetectorConfig(onset_rule="conformal", consensus=False)  # the rule alone


def q_of(likelihood: np.ndarray) -> np.ndarray:
    """The calibrated -log10 p behind `likelihood = q / (q + likelihood_scale)`."""
    return CONF.likelihood_scale * likelihood / (1.0 - likelihood)


def streamed_p(scores: np.ndarray, cfg: DetectorConfig = CONF) -> np.ndarray:
    """Each column judged against the block maxima of the columns before it, then learned:
    p-values of every point once the ring buffer is full."""
    rows, length = scores.shape
    buf = np.full((rows, cfg.conf_blocks), -np.inf)
    f = {"cmax": np.zeros(rows)}
    i = {"cbc": np.zeros(rows, dtype=np.int64), "cnb": np.zeros(rows, dtype=np.int64)}
    live = np.ones(rows, dtype=bool)
    warm = cfg.conf_blocks * cfg.conf_block
    out = []
    for t in range(length):
        if t >= warm:
            out.append(conformal_p(buf, scores[:, t], cfg.conf_block)[0])
        push_block(cfg, f, i, buf, scores[:, t], live)
    return np.array(out)


@pytest.mark.parametrize("kind", ["exponential", "pareto", "lognormal"])
def test_conformal_p_false_positive_rate_matches_its_threshold_on_iid_scores(kind: str) -> None:
    # Scores >= 0 of any shape (light, heavy, skewed): the share of points with p <= a is a.
    # Tolerance (measured over 200 x 1500 judged points; the block-maxima ranking is an
    # approximation of the exact rank): +-15 % at a = 0.05 and +-30 % at a = 0.01.
    rng = np.random.default_rng(7)
    shape = (200, 2012)
    scores = {
        "exponential": rng.exponential(1.0, shape),
        "pareto": rng.pareto(1.5, shape),
        "lognormal": rng.lognormal(0.0, 2.0, shape),
    }[kind]
    p = streamed_p(scores)
    assert 0.85 * 0.05 <= (p <= 0.05).mean() <= 1.15 * 0.05
    assert 0.7 * 0.01 <= (p <= 0.01).mean() <= 1.3 * 0.01


def test_conformal_p_is_free_of_the_scores_scale_and_shape() -> None:
    rng = np.random.default_rng(2)
    scores = rng.exponential(1.0, (20, 700))
    # any increasing map of the scores gives exactly the same p-values (it only counts)
    assert np.array_equal(streamed_p(scores), streamed_p(7.0 + np.exp(3.0 * scores)))


def test_conformal_p_counts_ties_against_the_point_and_is_one_when_empty() -> None:
    buf = np.array([[-np.inf] * 4, [1.0, 2.0, 3.0, -np.inf]])
    p, count = conformal_p(buf, np.array([5.0, 2.0]), block=1)
    assert p[0] == 1.0  # nothing learned yet: no evidence
    assert count[0] == 0
    assert count[1] == 2  # 2 and 3 are >= 2
    assert p[1] == pytest.approx(3.0 / 4.0)


def test_ring_buffer_is_bounded_and_overwrites_the_oldest_block() -> None:
    cfg = replace(CONF, conf_blocks=4, conf_block=2, conf_min_blocks=2)
    buf = np.full((1, 4), -np.inf)
    f = {"cmax": np.zeros(1)}
    i = {"cbc": np.zeros(1, dtype=np.int64), "cnb": np.zeros(1, dtype=np.int64)}
    live = np.ones(1, dtype=bool)
    for v in [1, 9, 2, 3, 4, 4, 5, 0, 6, 1, 7, 7]:  # 6 blocks of 2 points
        push_block(cfg, f, i, buf, np.array([float(v)]), live)
    # blocks' maxima 9, 3, 4, 5, 6, 7: the 4 newest are kept (9 and 3 overwritten)
    assert sorted(buf[0].tolist()) == [4.0, 5.0, 6.0, 7.0]
    assert i["cnb"][0] == 6
    # a missing point (not live) is no part of any block
    push_block(cfg, f, i, buf, np.array([50.0]), np.zeros(1, dtype=bool))
    assert f["cmax"][0] == 0.0
    assert i["cbc"][0] == 0


def test_state_per_series_is_stated_and_bounded() -> None:
    peak = SeriesBank(DetectorConfig(onset_rule="peak", consensus=False)).bytes_per_series()
    conf = SeriesBank(CONF).bytes_per_series()
    # the ring buffer: 32 float32 block maxima, 128 bytes (the running block maximum and
    # its two counters are scalars every rule keeps); 835 bytes in all without the consensus
    # tier (its 24 scalars are kept by every rule)
    assert conf - peak == 32 * 4
    assert conf < 848


def test_bank_false_positive_rate_on_noise_matches_the_threshold() -> None:
    # The likelihood is smoothed (autocorrelated), so its block maxima are less extreme than
    # independent ones would be and the p-value is optimistic. Measured on 16 x 3000 points
    # (after 800), share of q >= 2 (p <= 0.01) / q >= 3 (p <= 0.001): Gaussian 0.0128 /
    # 0.0015, Student-t(3) 0.0125 / 0.0020, AR(1) 0.8 0.0243 / 0.0032. Tolerance: a factor
    # 2.5 at p = 0.01 and 4 at p = 0.001. (In the body it is coarser: q >= 1 on 19-30 %.)
    rng = np.random.default_rng(1)
    series = 16
    ar = np.zeros((series, 3000))
    e = rng.normal(0.0, 1.0, (series, 3000))
    for t in range(1, 3000):
        ar[:, t] = 0.8 * ar[:, t - 1] + e[:, t]
    # the three kinds in one bank (one update per point for all 48 series)
    data = np.vstack([rng.normal(0.0, 1.0, (series, 3000)), rng.standard_t(3, (series, 3000)), ar])
    bank = SeriesBank(CONF, capacity=data.shape[0])
    slots = np.array([bank.slot(k, Direction.BOTH, None) for k in range(data.shape[0])])
    lik = np.array([bank.update(slots, 100.0 + data[:, t]).likelihood for t in range(3000)])
    for kind in range(3):
        q = q_of(lik[800:, kind * series : (kind + 1) * series])
        assert 0.004 <= (q >= 2.0).mean() <= 0.025
        assert 0.00025 <= (q >= 3.0).mean() <= 0.004


def noise(n: int, seed: int = 11) -> np.ndarray:
    return 100.0 + np.random.default_rng(seed).normal(0.0, 1.0, n)


def test_nothing_is_reported_before_the_buffer_holds_data() -> None:
    # warm-up: no onset before min_points + likelihood_warmup + rest_warmup valid points and
    # conf_min_blocks stored blocks (fixed counts, no share of a file); rest and breakthrough
    # are tested for both calibrated rules in test_onset_rest.py
    x = noise(400)
    x[150:153] += 30.0
    res = score_series(x, CONF)
    assert res.onset[:160].max() == 0.0
    x[300:303] += 30.0
    # later the rule reports (the warm-up burst is in the buffer, so the repeat is ranked
    # against it: q ~ 2 rather than an alarm)
    assert score_series(x, CONF).onset[300:303].max() > 0.2


def test_a_recurring_burst_stops_being_news_within_the_buffers_horizon() -> None:
    # The buffer learns every point, alarms included: the same 10-sd burst every 100 points
    # is an alarm at first and then ranks among the recent maxima (a recurrence gate with a
    # bounded, 512-point memory; an earlier, higher peak mutes nothing for longer).
    x = noise(3000)
    for at in range(1000, 2600, 100):
        x[at : at + 3] += 10.0
    big = x.copy()
    big[2800:2803] += 40.0  # far beyond the series' ordinary bursts
    plain, with_big = score_many([x, big], CONF)
    q = q_of(plain.likelihood)
    first = q[1000:1003].max()
    late = max(q[at : at + 3].max() for at in range(2200, 2600, 100))
    assert first >= CONF.alarm_q
    assert late < first - 1.0
    # ...while a burst far beyond them is still an alarm, at once
    assert with_big.onset[2800:2803].max() > 0.4


def test_the_onset_rule_changes_nothing_the_service_alerts_on() -> None:
    # severity, hysteresis, baseline and band are computed before the onset and independently
    # of it: every onset rule gives the same verdicts on a series with faults, gaps and a shift
    x = noise(1500, seed=5)
    x[400:406] += 9.0
    x[700] = np.nan
    x[900:] -= 20.0
    peak = DetectorConfig(onset_rule="peak", consensus=False)
    runs = score_many([x], peak) + score_many([x], CONF)
    for name in ("severity", "level", "open", "score", "baseline", "upper", "warming"):
        assert np.array_equal(getattr(runs[0], name), getattr(runs[1], name)), name
    assert not np.array_equal(runs[0].onset, runs[1].onset)
