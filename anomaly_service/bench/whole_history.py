"""Reference for the consensus tier: its seven tests recomputed over the whole stored history
at every point, as the published ensemble it follows does (O(n^2) time, O(n) memory per
series: benchmarks and tests only). The tier (detector/consensus.py) keeps bounded state
instead; this says how far that moves its alarms."""

from __future__ import annotations

import math

import numpy as np

from anomaly_service.detector import DetectorConfig

_DAY_MINUS_HOUR = 82_800.0  # the published "first hour average": a day ago, less an hour


def _sparse_bin(history: np.ndarray, tail: float, c: DetectorConfig) -> bool:
    counts, edges = np.histogram(history, bins=c.cons_bins)
    k = int(np.clip(np.searchsorted(edges, tail, side="right") - 1, 0, c.cons_bins - 1))
    return bool(counts[k] <= c.cons_bin_count) and edges[-1] > edges[0]


def alarms(seconds: np.ndarray, values: np.ndarray, config: DetectorConfig) -> np.ndarray:
    """Consensus alarms of one series (bool per point); missing points are skipped."""
    c = config
    out = np.zeros(values.size, dtype=bool)
    keep = np.flatnonzero(np.isfinite(values))
    v, t = values[keep], seconds[keep]
    a = 1.0 / (1.0 + c.cons_ewm_com)
    w = w2 = wx = wxx = 0.0
    last_alarm = -math.inf
    for n in range(1, v.size + 1):
        x = v[n - 1]
        w, w2 = (1 - a) * w + 1, (1 - a) ** 2 * w2 + 1
        wx, wxx = (1 - a) * wx + x, (1 - a) * wxx + x * x
        if n < max(3, c.min_points) or t[n - 1] - last_alarm < c.cons_expiry_s:
            continue
        hist = v[:n]
        tail = hist[-3:].mean()
        k = c.cons_sd
        votes = int(abs(tail - hist.mean()) > k * hist.std(ddof=1))
        votes += abs(x - hist[:-1].mean()) > k * hist[:-1].std(ddof=1)
        old = hist[t[:n] < t[n - 1] - _DAY_MINUS_HOUR]
        votes += old.size > 1 and abs(tail - old.mean()) > k * old.std(ddof=1)
        ew_mean = wx / w
        corr = 1 - w2 / (w * w)
        ew_var = max(wxx / w - ew_mean * ew_mean, 0.0) / corr if corr > 0 else 0.0
        votes += ew_var > 0 and abs(x - ew_mean) > k * math.sqrt(ew_var)
        slope, icpt = np.polyfit(t[:n] - t[0], hist, 1)
        resid = hist - (slope * (t[:n] - t[0]) + icpt)
        votes += abs(resid[-3:].mean()) > k * resid.std()
        if votes >= c.cons_votes - 2:
            median = np.median(hist)
            mad = np.median(np.abs(hist - median))
            votes += mad > 0 and abs(x - median) > c.cons_mad * mad
            votes += _sparse_bin(hist, tail, c)
        if votes >= c.cons_votes:
            out[keep[n - 1]] = True
            last_alarm = t[n - 1]
    return out
