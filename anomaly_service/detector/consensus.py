"""The onset score's consensus tier: seven plain tests of a point against its series' whole
history must agree (5 of 7), then the series rests for an expiry in time. In the spirit of
Skyline's ensemble (the streaming peer that scores best on NAB data nobody here tuned on),
with bounded state: running moments instead of the stored history, and a range-doubling
histogram for the median, MAD and bin counts. Pure numpy on the bank's per-slot arrays.

Tests (k = cons_sd standard deviations; `tail` = mean of the last 3 values):
  1. tail beyond k sd of the mean of the whole history (this point included);
  2. the point beyond k sd of the history before it;
  3. tail beyond k sd of the history older than cons_lag_s (a day ago, and before);
  4. the point beyond k sd of an exponentially weighted mean (centre of mass cons_ewm_com);
  5. the mean of the last 3 residuals of a least-squares line through the history beyond k
     residual sd;
  6. the point beyond cons_mad median absolute deviations of the history's median;
  7. tail in one of cons_bins equal bins over the history's [min, max] that holds at most
     cons_bin_count points.
Tests 6 and 7 read the histogram, so they run only where 1-5 leave the consensus possible.
"""

from __future__ import annotations

import numpy as np

from anomaly_service.detector.config import DetectorConfig

Arrays = dict[str, np.ndarray]

FLOAT_FIELDS = (
    "cmean",  # whole history: mean and sum of squared deviations (Welford)
    "cm2",
    "cty",  # co-moment of (index, value): the least-squares slope
    "ct1",  # the two values before this one (the tail average)
    "ct2",
    "cem",  # exponentially weighted mean, weighted squared deviations, weights, weights^2
    "ces",
    "cw",
    "cw2",
    "cam",  # two snapshots of the history's moments, one per cons_lag_s: the older one is
    "cam2",  # "the history older than a day" of test 3
    "cbm",
    "cbm2",
    "csnap",  # time of the newer snapshot
    "chlo",  # histogram: lower edge and bin width (the range only grows, by doubling)
    "chw",
    "cvmin",  # the history's min and max
    "cvmax",
    "calarm",  # time of the last consensus alarm
    "clock",  # time of the last point (seconds)
)
INT_FIELDS = (
    "ccnt",  # valid points in the history
    "cacnt",  # points in the older / newer snapshot
    "cbcnt",
    "cfired",  # 1 once an alarm was raised (calarm is meaningful)
)
_MIN_POINTS = 3  # a consensus needs a tail of 3 and a variance
# A consensus alarm's onset; the onset rule's own score is halved below 0.5, so a threshold
# in (0.5, ALARM_SCORE] keeps the consensus alarms alone.
ALARM_SCORE = 0.75


def _outside(dev: np.ndarray, var: np.ndarray, k: float) -> np.ndarray:
    """|dev| > k sd, false where the variance is not positive."""
    return np.asarray((var > 0) & (dev * dev > k * k * var))


def _grow_range(hist: np.ndarray, lo: np.ndarray, hw: np.ndarray, x: np.ndarray) -> None:
    """Double the width of the rows' histograms (merging bin pairs) until x fits; in place.
    The range grows downwards when x lies below it, upwards otherwise."""
    k = hist.shape[1]
    while True:
        below = x < lo
        above = x >= lo + k * hw
        rows = np.flatnonzero(below | above)
        if not rows.size:
            return
        merged = hist[rows].reshape(rows.size, k // 2, 2).sum(axis=2)
        down = below[rows][:, None]
        hist[rows] = np.where(
            down,
            np.concatenate([np.zeros_like(merged), merged], axis=1),
            np.concatenate([merged, np.zeros_like(merged)], axis=1),
        )
        lo[rows] = np.where(below[rows], lo[rows] - k * hw[rows], lo[rows])
        hw[rows] *= 2.0


def _count_below(hist: np.ndarray, lo: np.ndarray, hw: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points of each row's histogram below v (uniform inside a bin)."""
    k = hist.shape[1]
    pos = np.clip((v - lo) / hw, 0.0, float(k))
    b = np.minimum(pos.astype(np.int64), k - 1)
    cum = np.concatenate([np.zeros((hist.shape[0], 1)), np.cumsum(hist, axis=1)], axis=1)
    rows = np.arange(hist.shape[0])
    return np.asarray(cum[rows, b] + hist[rows, b] * (pos - b))


_MAD_STEPS = 30  # bisection steps: the MAD to 2^-30 of the histogram's range


def _median_mad(hist: np.ndarray, lo: np.ndarray, hw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and median absolute deviation, the points spread uniformly inside their bins
    (a bin can be wide: one far outlier doubles the range until it fits). The median is
    interpolated in its bin; the MAD is the d with half the points within median +- d, found
    by bisection (the share within +- d only grows with d)."""
    k = hist.shape[1]
    rows = np.arange(hist.shape[0])
    cum = np.cumsum(hist, axis=1)
    half = 0.5 * cum[:, -1]
    b = np.minimum((cum < half[:, None]).sum(axis=1), k - 1)
    before = np.where(b > 0, cum[rows, np.maximum(b - 1, 0)], 0.0)
    inside = hist[rows, b]
    frac = np.where(inside > 0, (half - before) / np.where(inside > 0, inside, 1.0), 0.0)
    med = lo + (b + frac) * hw
    low = np.zeros_like(med)
    high = np.maximum(med - lo, lo + k * hw - med)
    for _ in range(_MAD_STEPS):
        mid = 0.5 * (low + high)
        within = _count_below(hist, lo, hw, med + mid) - _count_below(hist, lo, hw, med - mid)
        short = within < half
        low = np.where(short, mid, low)
        high = np.where(short, high, mid)
    return med, high


def _learn(
    c: DetectorConfig,
    f: Arrays,
    i: Arrays,
    hist: np.ndarray,
    x: np.ndarray,
    t: np.ndarray,
    valid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the valid points to the history (moments, snapshots, histogram); returns the
    history's count, mean and M2 before this point (test 2)."""
    cnt0, mean0, m20 = i["ccnt"], f["cmean"], f["cm2"]
    first = valid & (cnt0 == 0)
    cnt = np.where(valid, cnt0 + 1, cnt0)
    d = np.where(valid, x - mean0, 0.0)
    mean = mean0 + np.where(valid, d / np.maximum(cnt, 1), 0.0)
    f["cm2"] = m20 + np.where(valid, d * (x - mean), 0.0)
    # least squares against the point index 0, 1, ...: the index mean is (cnt0 - 1) / 2
    dt = np.where(valid, cnt0 - (cnt0 - 1) * 0.5, 0.0)
    f["cty"] = f["cty"] + np.where(valid, dt * (x - mean), 0.0)
    f["cmean"] = mean
    i["ccnt"] = cnt
    f["ct2"] = np.where(valid, f["ct1"], f["ct2"])
    f["ct1"] = np.where(valid, x, f["ct1"])
    # exponentially weighted moments (weights 1, (1 - a), (1 - a)^2, ... as pandas' adjust)
    a = 1.0 / (1.0 + c.cons_ewm_com)
    w = np.where(valid, (1 - a) * f["cw"] + 1.0, f["cw"])
    dev = x - f["cem"]
    em = np.where(valid, f["cem"] + dev / np.maximum(w, 1.0), f["cem"])
    f["ces"] = np.where(
        valid, (1 - a) * f["ces"] + (1 - 1 / np.maximum(w, 1.0)) * dev * dev, f["ces"]
    )
    f["cw2"] = np.where(valid, (1 - a) ** 2 * f["cw2"] + 1.0, f["cw2"])
    f["cem"], f["cw"] = em, w
    # a snapshot of the moments every cons_lag_s: the older one covers points >= a lag ago
    f["csnap"] = np.where(first, t, f["csnap"])
    snap = valid & ~first & (t - f["csnap"] >= c.cons_lag_s)
    for old, new in (("cam", "cbm"), ("cam2", "cbm2")):
        f[old] = np.where(snap, f[new], f[old])
    i["cacnt"] = np.where(snap, i["cbcnt"], i["cacnt"])
    f["cbm"] = np.where(snap, mean, f["cbm"])
    f["cbm2"] = np.where(snap, f["cm2"], f["cbm2"])
    i["cbcnt"] = np.where(snap, cnt, i["cbcnt"])
    f["csnap"] = np.where(snap, t, f["csnap"])
    # histogram of the whole history
    f["cvmin"] = np.where(first, x, np.where(valid, np.minimum(f["cvmin"], x), f["cvmin"]))
    f["cvmax"] = np.where(first, x, np.where(valid, np.maximum(f["cvmax"], x), f["cvmax"]))
    k = hist.shape[1]
    hw0 = np.maximum(np.abs(x) * 1e-3, c.min_spread_abs)
    f["chw"] = np.where(first, hw0, f["chw"])
    f["chlo"] = np.where(first, x - 0.5 * k * hw0, f["chlo"])
    rows = np.flatnonzero(valid)
    xv = x[rows]
    need = rows[(xv < f["chlo"][rows]) | (xv >= f["chlo"][rows] + k * f["chw"][rows])]
    if need.size:  # rare: a new min or max beyond the range
        sub, lo, hw = hist[need], f["chlo"][need], f["chw"][need]
        _grow_range(sub, lo, hw, x[need])
        hist[need], f["chlo"][need], f["chw"][need] = sub, lo, hw
    b = np.minimum(((xv - f["chlo"][rows]) / f["chw"][rows]).astype(np.int64), k - 1)
    hist[rows, b] += 1.0
    return cnt0, mean0, m20


def votes(
    c: DetectorConfig,
    f: Arrays,
    i: Arrays,
    hist: np.ndarray,
    x: np.ndarray,
    tail: np.ndarray,
    cnt0: np.ndarray,
    mean0: np.ndarray,
    m20: np.ndarray,
    judge: np.ndarray,
) -> np.ndarray:
    """How many of the seven tests the point fails (0 where not `judge`)."""
    k = c.cons_sd
    cnt = i["ccnt"].astype(float)
    var = f["cm2"] / np.maximum(cnt - 1.0, 1.0)
    n = _outside(tail - f["cmean"], var, k).astype(np.int64)
    n += _outside(x - mean0, m20 / np.maximum(cnt0 - 1.0, 1.0), k) & (cnt0 > 1)
    lag_var = f["cam2"] / np.maximum(i["cacnt"] - 1.0, 1.0)
    n += _outside(tail - f["cam"], lag_var, k) & (i["cacnt"] > 1)
    w, w2 = f["cw"], f["cw2"]
    corr = 1.0 - w2 / np.maximum(w * w, 1e-300)
    ew_var = np.where(
        corr > 0, f["ces"] / np.maximum(w, 1e-300) / np.where(corr > 0, corr, 1.0), 0.0
    )
    n += _outside(x - f["cem"], ew_var, k)
    m2t = cnt * (cnt * cnt - 1.0) / 12.0  # sum of squared deviations of 0..cnt-1
    slope = np.where(m2t > 0, f["cty"] / np.where(m2t > 0, m2t, 1.0), 0.0)
    resid_var = np.maximum(f["cm2"] - slope * f["cty"], 0.0) / np.maximum(cnt, 1.0)
    # the last three points have indices cnt-3..cnt-1, centred on cnt-2
    resid = tail - (f["cmean"] + slope * (cnt - 2.0 - (cnt - 1.0) * 0.5))
    n += _outside(resid, resid_var, k)
    n = np.where(judge, n, 0)
    rows = np.flatnonzero(judge & (n >= c.cons_votes - 2))
    if rows.size:
        h, lo, hw = hist[rows].astype(float), f["chlo"][rows], f["chw"][rows]
        med, mad = _median_mad(h, lo, hw)
        n[rows] += (mad > 0) & (np.abs(x[rows] - med) > c.cons_mad * mad)
        vmin, vmax, tr = f["cvmin"][rows], f["cvmax"][rows], tail[rows]
        bw = (vmax - vmin) / c.cons_bins
        ok = bw > 0
        b = np.clip(np.floor((tr - vmin) / np.where(ok, bw, 1.0)), 0, c.cons_bins - 1)
        left = vmin + b * bw
        inside = _count_below(h, lo, hw, left + bw) - _count_below(h, lo, hw, left)
        n[rows] += ok & (inside <= c.cons_bin_count)
    return np.asarray(n)


def tier(
    c: DetectorConfig,
    f: Arrays,
    i: Arrays,
    hist: np.ndarray,
    x: np.ndarray,
    t: np.ndarray,
    valid: np.ndarray,
    rule_onset: np.ndarray,
) -> np.ndarray:
    """Learn the point, then the onset: ALARM_SCORE for a consensus alarm (which starts an expiry
    of cons_expiry_s), else half the onset rule's score, 0 during an expiry."""
    tail = (x + f["ct1"] + f["ct2"]) / 3.0  # before learning: ct1, ct2 are the points before
    cnt0, mean0, m20 = _learn(c, f, i, hist, x, t, valid)
    resting = (i["cfired"] > 0) & (t - f["calarm"] < c.cons_expiry_s)
    judge = valid & ~resting & (i["ccnt"] >= max(_MIN_POINTS, c.min_points))
    fire = votes(c, f, i, hist, x, tail, cnt0, mean0, m20, judge) >= c.cons_votes
    f["calarm"] = np.where(fire, t, f["calarm"])
    i["cfired"] = np.where(fire, 1, i["cfired"])
    f["clock"] = t
    return np.asarray(np.where(fire, ALARM_SCORE, np.where(resting, 0.0, 0.5 * rule_onset)))
