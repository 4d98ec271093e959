"""Onset rules "rest" and "conformal": a calibrated -log10 p of the likelihood, reported once
per onset (rest period, breakthrough, optional recurrence gate). Pure numpy on the bank's
per-slot arrays; `SeriesBank` owns the state and calls these once per update.
"""

from __future__ import annotations

import numpy as np

from anomaly_service.detector.config import DetectorConfig

_LN10 = float(np.log(10.0))
# The tail calibration starts as if it had seen this many nominal (Gaussian) points, and
# never takes the tail's share below this rate.
_TAIL_PRIOR = 60.0
_TAIL_MIN_RATE = 1e-4

Arrays = dict[str, np.ndarray]


def tail_q(c: DetectorConfig, f: Arrays, i: Arrays, lq: np.ndarray, live: np.ndarray) -> np.ndarray:
    """q = -log10 of the likelihood's tail probability under an exponential tail fitted per
    series above tail_u (its rate and mean excess, learned from every live point; a fresh
    series starts from the Gaussian nominal: rate 10^-u, excess 1/ln 10). Unlike an
    empirical rank it extrapolates smoothly beyond the values seen, so a new record scores by
    how far it goes; one huge excess moves the fit by at most tail_clip mean excesses.
    Learns (trate, tbeta, cn) in `f`/`i`; returns q for this point (0 where not live)."""
    cn = i["cn"]
    fresh = cn == 0
    rate = np.where(fresh, 10.0**-c.tail_u, f["trate"])
    beta = np.where(fresh, 1.0 / _LN10, f["tbeta"])
    base = -np.log10(rate)
    q = np.where(lq <= c.tail_u, lq * base / c.tail_u, base + (lq - c.tail_u) / (beta * _LN10))
    q = np.where(live, q, 0.0)
    over = lq > c.tail_u
    a = np.maximum(c.alpha_cal, 1.0 / (cn + 1.0 + _TAIL_PRIOR))
    rate = np.where(live, np.maximum(rate + a * (over - rate), _TAIL_MIN_RATE), rate)
    b = np.maximum(10.0 * c.alpha_cal, 1.0 / (cn * rate + 1.0 + 0.1 * _TAIL_PRIOR))
    excess = np.minimum(lq - c.tail_u, c.tail_clip * beta)
    f["trate"] = rate
    f["tbeta"] = np.where(live & over, beta + b * (excess - beta), beta)
    i["cn"] = np.where(live, cn + 1, cn)
    return np.asarray(q)


def conformal_p(
    buf: np.ndarray, x: np.ndarray, block: int, filled: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Conformal p-value of each score `x` against its row of `buf`, the maxima of the
    series' last blocks of `block` points (-inf = an empty entry; `filled`, the number of
    filled entries per row, is counted when not given).

    With b filled entries of which c are >= x, the block p-value is pb = (1 + c) / (b + 1)
    (x ranked among the maxima, ties counted against x); for independent, identically
    distributed scores P(block max >= x) = 1 - (1 - p)^block, so the per-point p-value is
    p = 1 - (1 - pb)^(1 / block). It only counts, so it is free of the scores' scale and
    shape. Returns (p, count); p is 1 for rows with no filled entry."""
    if filled is None:
        filled = np.count_nonzero(buf > -np.inf, axis=1)
    # compare in the buffer's precision: no float64 copy of the whole buffer per update
    count = np.count_nonzero(buf >= x.astype(buf.dtype)[:, None], axis=1)
    pb = (1.0 + count) / (filled + 1.0)
    p = np.where(pb >= 1.0, 1.0, 1.0 - np.power(np.maximum(1.0 - pb, 0.0), 1.0 / block))
    return p, count


def conformal_q(
    c: DetectorConfig, f: Arrays, i: Arrays, buf: np.ndarray, lq: np.ndarray, live: np.ndarray
) -> np.ndarray:
    """q = -log10 of the conformal p-value of `lq` against the series' recent block maxima;
    beyond the largest of them (no rank left to count), the exponential tail's slope
    (1 / (tbeta ln 10) per unit of lq, tbeta learned by tail_q) extends it, so a new record
    scores by how far it goes, as in tail_q. The block is counted once learned (push_block)."""
    filled = np.minimum(i["cnb"], c.conf_blocks)
    p, count = conformal_p(buf, lq, c.conf_block, filled)
    q = -np.log10(np.maximum(p, 1e-300))
    beyond = np.flatnonzero((count == 0) & (filled > 0))  # rare: only these need the top
    if beyond.size:
        top = buf[beyond].max(axis=1)
        q[beyond] += np.maximum(lq[beyond] - top, 0.0) / (f["tbeta"][beyond] * _LN10)
    return np.asarray(np.where(live, q, 0.0))


def push_block(
    c: DetectorConfig, f: Arrays, i: Arrays, buf: np.ndarray, lq: np.ndarray, live: np.ndarray
) -> None:
    """Learn `lq` (after it was judged): the running block maximum, stored in the ring
    buffer `buf` (in place) when the block of conf_block live points is full."""
    cmax = np.where(live, np.maximum(f["cmax"], lq), f["cmax"])
    cbc = np.where(live, i["cbc"] + 1, i["cbc"])
    full = np.flatnonzero(cbc >= c.conf_block)
    if full.size:
        buf[full, i["cnb"][full] % c.conf_blocks] = cmax[full]
        i["cnb"][full] += 1
        cmax[full] = 0.0  # the likelihood is >= 0
        cbc[full] = 0
    f["cmax"] = cmax
    i["cbc"] = cbc


def report(
    c: DetectorConfig,
    f: Arrays,
    i: Arrays,
    q: np.ndarray,
    ready: np.ndarray,
    live: np.ndarray,
    gate_decay: float,
) -> np.ndarray:
    """Rest period, breakthrough and recurrence gate on a calibrated q: the onset in [0, 1).

    Outside a rest, q is reported (q / (q + likelihood_scale)); reaching alarm_q starts a
    rest of rest_points points in which only a breakthrough (q beyond the last alarm's q by
    breakthrough_q) is reported and starts a new rest. The optional gate (rest_gate) asks
    q to reach the recent alarms' q (forgotten with a half-life of gate_memory points)
    minus gate_slack."""
    rest = i["rest"]
    resting = rest > 0
    gate = f["gate"] * np.where(live, gate_decay, 1.0)
    breakthrough = resting & (q >= f["alarm"] + c.breakthrough_q)
    free = ~resting & ((q >= gate - c.gate_slack) if c.rest_gate else True)
    out_q = np.where(ready & (breakthrough | free), q, 0.0)
    fire = ready & (out_q >= c.alarm_q)
    f["alarm"] = np.where(fire, q, f["alarm"])
    f["gate"] = np.where(fire, np.maximum(gate, q), gate)
    i["rest"] = np.where(fire, c.rest_points, np.where(live & resting, rest - 1, rest))
    return np.asarray(out_q / (out_q + c.likelihood_scale))
