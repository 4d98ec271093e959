"""Sequence-novelty confirmation of a calibrated onset (option `novelty`): is the short window
ending at this point new, not just this point? Pure numpy on the bank's per-slot arrays.

Every valid point only writes its fast z-score into a ring of the last nov_window (float32,
the one cost paid by all series). The comparison runs only for the candidates, the points
whose calibrated q reaches nov_q, against a per-series codebook of the last nov_codes candidate
windows that were new (int8 codes): bytes per series 4 w + K w + 4 (the codebook's count).
"""

from __future__ import annotations

import numpy as np

from anomaly_service.detector.config import DetectorConfig

# int8 code steps per log unit of excess: 1/16 log unit resolution, codes up to 127/16 =
# 7.9 log units (an excess of ~2,800 fast spreads); anything larger is clipped there.
_STEPS = 16.0


def push_point(
    ring: np.ndarray, rows: np.ndarray, fc: np.ndarray, fz: np.ndarray, valid: np.ndarray
) -> None:
    """Write each valid point's fast z into its series' ring (in place): position fc mod w,
    fc the series' count of valid points before this one, so gaps do not break a window."""
    w = ring.shape[1]
    if valid.all():
        ring[rows, fc % w] = fz
    else:
        k = np.flatnonzero(valid)
        ring[rows[k], fc[k] % w] = fz[k]


def codes(window: np.ndarray, dead: float) -> np.ndarray:
    """Signed log of the excess over `dead` fast spreads, in int8 steps of 1/16: a point
    within the dead zone is 0 (noise windows are alike whatever their wiggle), a burst is
    coded by how far it goes, scale-free (fast z units) and compressed like the likelihood's
    log deviation."""
    ex = np.log1p(np.maximum(np.abs(window) - dead, 0.0)) * _STEPS
    return np.asarray(np.clip(np.rint(np.sign(window) * ex), -127, 127).astype(np.int8))


def confirm(
    c: DetectorConfig,
    ring: np.ndarray,
    book: np.ndarray,
    nvc: np.ndarray,
    rows: np.ndarray,
    fc: np.ndarray,
    q: np.ndarray,
    live: np.ndarray,
) -> np.ndarray:
    """q after the novelty confirmation, for the candidates (live, q >= nov_q) only.

    A candidate's window (the last nov_window fast z, oldest first, this point included) is
    compared with the filled rows of its codebook: the distance to one is the largest
    difference over the window's points, in log units (L-infinity: every point of the shape
    must agree). Within nov_match of a stored window it is not new: q loses nov_penalty
    times (1 - distance / nov_match), so a close repeat loses the whole penalty. A window
    matching none is new: a borderline q (below alarm_q) gains nov_boost, and the window is
    stored (judged first, learned after), overwriting the oldest; a matched one is not, so
    a shape that recurs is stored once. `fc` counts the valid points
    including this one (indexed like `q`); `ring`, `book` and `nvc` (windows stored per
    series) are the bank's arrays, indexed by slot (`rows`), and are updated in place."""
    cand = np.flatnonzero(live & (q >= c.nov_q))
    if not cand.size:
        return q
    w, k = c.nov_window, c.nov_codes
    g = rows[cand]
    order = (fc[cand, None] + np.arange(w)[None, :]) % w  # oldest first: fc is one past
    win = codes(ring[g[:, None], order], c.nov_dead).astype(np.int16)
    stored = book[g].astype(np.int16)  # (n, K, w)
    dist = np.abs(stored - win[:, None, :]).max(axis=2) / _STEPS
    filled = np.arange(k)[None, :] < np.minimum(nvc[g], k)[:, None]
    dist = np.where(filled, dist, np.inf).min(axis=1)
    out = q.copy()
    near = dist < c.nov_match
    qc = q[cand]
    similarity = 1.0 - np.minimum(dist, c.nov_match) / c.nov_match  # 0 when nothing is near
    out[cand] = np.where(
        near,
        qc - c.nov_penalty * similarity,
        np.where(qc < c.alarm_q, qc + c.nov_boost, qc),
    )
    new = cand[~near]
    if new.size:
        gn = rows[new]
        book[gn, nvc[gn] % k] = win[~near].astype(np.int8)
        nvc[gn] += 1
    return np.asarray(np.maximum(out, 0.0))
