"""The onset score's consensus tier (detector/consensus.py): its running statistics equal the
whole-history ones, its histogram's median/MAD/bin counts approximate the exact ones, the
expiry is in time, and it leaves the severity channel and the rule's own score alone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from anomaly_service.detector import DetectorConfig, Direction, SeriesBank, score_many, score_series
from anomaly_service.detector.consensus import ALARM_SCORE, _count_below, _median_mad

FIVE_MIN = DetectorConfig(cycle_s=300.0)  # NAB's usual step: 12 h is 144 points


def _fed(values: np.ndarray, config: DetectorConfig = FIVE_MIN) -> dict[str, float | int | bool]:
    bank = SeriesBank(config, capacity=1)
    bank.slot("s", Direction.BOTH, None)
    bank.seed_many([0], np.asarray(values)[None, :])
    return bank.snapshot(0)


def test_running_moments_equal_the_whole_history() -> None:
    rng = np.random.default_rng(11)
    x = 50.0 + 0.01 * np.arange(2000) + rng.normal(0.0, 2.0, 2000)
    x[1000] = np.nan  # a missing point is no part of the history
    snap = _fed(x)
    v = x[np.isfinite(x)]
    n = v.size
    assert snap["ccnt"] == n
    assert snap["cmean"] == pytest.approx(v.mean(), rel=1e-10)
    assert snap["cm2"] / (n - 1) == pytest.approx(v.var(ddof=1), rel=1e-8)
    # least squares against the point index: the co-moment gives the slope
    idx = np.arange(n)
    slope = np.polyfit(idx, v, 1)[0]
    m2t = n * (n * n - 1) / 12.0
    assert snap["cty"] / m2t == pytest.approx(slope, rel=1e-8)
    # exponentially weighted mean and unbiased variance, centre of mass 50 (weights (50/51)^k)
    w = (50.0 / 51.0) ** np.arange(n)[::-1]
    ew_mean = (w * v).sum() / w.sum()
    ew_var = (w * (v - ew_mean) ** 2).sum() / w.sum() / (1 - (w * w).sum() / w.sum() ** 2)
    assert snap["cem"] == pytest.approx(ew_mean, rel=1e-10)
    corr = 1 - snap["cw2"] / snap["cw"] ** 2
    assert snap["ces"] / snap["cw"] / corr == pytest.approx(ew_var, rel=1e-8)
    # the histogram holds every point, and its range covers them
    assert snap["cvmin"] == v.min()
    assert snap["cvmax"] == v.max()
    assert snap["chlo"] <= v.min()
    assert snap["chlo"] + 64 * snap["chw"] > v.max()


def test_day_old_snapshot_holds_the_history_older_than_the_lag() -> None:
    # 300 s per point, lag 23 h = 276 points: snapshots at points 276, 552, 828, ...; the
    # older one is the "day-old" history of test 3
    x = np.arange(1000, dtype=float)
    snap = _fed(x)
    assert snap["cbcnt"] == 829
    assert snap["cacnt"] == 553
    assert snap["cam"] == pytest.approx(np.arange(553).mean())


def test_histogram_median_mad_and_bin_counts_approximate_the_exact_ones() -> None:
    rng = np.random.default_rng(3)
    kinds = {
        "normal": rng.normal(100.0, 5.0, 2000),
        "lognormal": rng.lognormal(0.0, 1.0, 2000),
        "with a far outlier": rng.normal(100.0, 5.0, 2000),
    }
    kinds["with a far outlier"][1000] = 1e4  # the range doubles until it fits: wide bins
    data = np.array(list(kinds.values()))
    bank = SeriesBank(FIVE_MIN, capacity=3)
    slots = np.array([bank.slot(k, Direction.BOTH, None) for k in kinds])
    for t in range(data.shape[1]):
        bank.update(slots, data[:, t])
    for row, (kind, v) in enumerate(kinds.items()):
        snap = bank.snapshot(int(slots[row]))
        hist = bank._chist[slots[row] : slots[row] + 1].astype(float)
        assert hist.sum() == v.size, kind
        lo, hw = np.array([snap["chlo"]]), np.array([snap["chw"]])
        med, mad = _median_mad(hist, lo, hw)
        exact_med = np.median(v)
        exact_mad = np.median(np.abs(v - exact_med))
        # within a bin width (the histogram's resolution)
        assert abs(med[0] - exact_med) <= hw[0], kind
        assert abs(mad[0] - exact_mad) <= hw[0], kind
        if kind == "with a far outlier":
            # one bin holds nearly every point: the MAD must not shrink towards 0 (to bin
            # centres it did), or test 6 would vote on ordinary points
            assert mad[0] >= exact_mad, kind
        else:
            assert abs(mad[0] - exact_mad) <= hw[0] / 10, kind
        # the count in a range: exact up to the two partial bins at its ends
        a, b = np.quantile(v, [0.2, 0.7])
        got = _count_below(hist, lo, hw, np.array([b])) - _count_below(hist, lo, hw, np.array([a]))
        exact = ((v >= a) & (v < b)).sum()
        assert abs(got[0] - exact) <= 2 * hist[0].max(), kind


def test_a_far_outlier_is_an_alarm_and_gaussian_noise_raises_none() -> None:
    rng = np.random.default_rng(0)
    noise = [rng.normal(0.0, 1.0, 2500) for _ in range(32)]
    x = rng.normal(0.0, 1.0, 2500)
    x[2000:2003] = 12.0
    *quiet, burst = score_many([*noise, x], FIVE_MIN)
    # the tail of 3 beyond 3 sd of the whole history is 5.2 sd of a 3-point mean: measured 0
    # in 80,000 points (16 x 5000; Student-t(3): 57, AR(1) 0.8: 23)
    assert sum(int((r.onset >= ALARM_SCORE).sum()) for r in quiet) == 0
    fired = np.flatnonzero(burst.onset >= ALARM_SCORE)
    assert fired.size == 1
    assert 2000 <= fired[0] <= 2002


def test_the_expiry_is_in_time_and_mutes_the_rule() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 1.0, 1500)
    for at in (1000, 1072, 1300):  # 6 h after the first (muted), then 25 h (an alarm)
        x[at : at + 3] = 15.0
    # the same points at hourly timestamps: 12 h is 12 points, so the second burst (72 h
    # later) is an alarm too
    r, hourly = score_many(
        [x, x], FIVE_MIN, times=[300.0 * np.arange(1500), 3600.0 * np.arange(1500)]
    )
    fired = np.flatnonzero(r.onset >= ALARM_SCORE)
    assert [f // 10 for f in fired] == [100, 130]
    # nothing at all is reported during the 12 h (144 points) after an alarm
    assert (r.onset[fired[0] + 1 : fired[0] + 144] == 0.0).all()
    assert (np.flatnonzero(hourly.onset >= ALARM_SCORE) // 10).tolist() == [100, 107, 130]


def test_without_times_each_point_is_cycle_s_later() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 1.0, 1500)
    x[[700, 800, 1400]] = 20.0
    implicit = score_many([x], FIVE_MIN)[0].onset
    explicit = score_many([x], FIVE_MIN, times=[1.7e9 + 300.0 * np.arange(x.size)])[0].onset
    assert (implicit >= ALARM_SCORE).sum() == 2
    np.testing.assert_array_equal(implicit, explicit)


def test_the_rule_score_is_halved_and_the_severity_channel_is_untouched() -> None:
    rng = np.random.default_rng(6)
    x = 10.0 + rng.normal(0.0, 1.0, 2000)
    x[1000:1060] += 6.0
    x[1500:1503] = 40.0
    on = score_many([x], FIVE_MIN)[0]
    off = score_many([x], dataclasses.replace(FIVE_MIN, consensus=False))[0]
    for name in ("level", "severity", "open", "baseline", "likelihood", "zscore"):
        np.testing.assert_array_equal(getattr(on, name), getattr(off, name))
    alarm = on.onset >= ALARM_SCORE
    assert alarm.any()
    quiet = on.onset == 0.0
    rest = ~alarm & ~quiet
    np.testing.assert_allclose(on.onset[rest], 0.5 * off.onset[rest])
    assert (on.onset[~alarm] < 0.5).all()


def test_times_must_be_finite_and_aligned() -> None:
    bank = SeriesBank(FIVE_MIN, capacity=2)
    s = np.array([bank.slot("a", Direction.UP, None), bank.slot("b", Direction.UP, None)])
    with pytest.raises(ValueError, match="times"):
        bank.update(s, np.array([1.0, 2.0]), np.array([0.0]))
    with pytest.raises(ValueError, match="times"):
        bank.update(s, np.array([1.0, 2.0]), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="times"):
        score_series([1.0, 2.0], FIVE_MIN, times=[0.0])
    with pytest.raises(ValueError, match="times"):
        score_many([[1.0], [2.0]], FIVE_MIN, times=[[0.0]])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cons_votes", 0),
        ("cons_votes", 8),
        ("cons_sd", 0.0),
        ("cons_hist_bins", 63),
        ("cons_lag_s", 0.0),
        ("cycle_s", 0.0),
        ("cons_bins", 0),
    ],
)
def test_bad_consensus_settings_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=r"cons_|cycle_s"):
        DetectorConfig(**{field: value})
