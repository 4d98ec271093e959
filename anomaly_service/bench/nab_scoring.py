"""NAB's scoring rules (Numenta Anomaly Benchmark, MIT licence), re-implemented without I/O.

Rules, as NAB's sweeper applies them:
- the first min(floor(0.15 * rows), 750) rows of a file are probationary and not scored;
- a row inside a labelled window [left, right] (width w = right - left + 1) earns
  tp * sigmoid(-(right - i + 1) / w) / sigmoid(-1): ~1 at the window's start, ~0 at its end;
  only the earliest detection of a window counts (NAB keeps the maximum, which is the earliest);
- a window without detection costs -fn;
- a detection outside windows costs fp * sigmoid(|i - prev_right| / (prev_w - 1)) (a negative
  number), or -fp when no window precedes it;
- sigmoid(y) = 2 / (1 + exp(5 y)) - 1, and -1 for y > 3;
- the threshold on anomaly_score is swept over every distinct score of the whole corpus and the
  one with the highest total is kept (per profile);
- normalised = 100 * (raw - null) / (perfect - null), null = -fn * windows (never fires),
  perfect = tp * windows (fires at every window's first row and nowhere else).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fn: float
    fp: float


# SPEC 3.2 and NAB's config/profiles.json.
PROFILES: tuple[Profile, ...] = (
    Profile("standard", 1.0, 1.0, 0.11),
    Profile("reward_low_FP_rate", 1.0, 1.0, 0.22),
    Profile("reward_low_FN_rate", 1.0, 2.0, 0.11),
)


def profiles_from_json(data: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[Profile]:
    """Profiles from NAB's profiles.json shape: {name: {"CostMatrix": {tpWeight, ...}}}."""
    out = []
    for name, body in data.items():
        cm = body["CostMatrix"]
        out.append(
            Profile(name, float(cm["tpWeight"]), float(cm["fnWeight"]), float(cm["fpWeight"]))
        )
    return out


def scaled_sigmoid(y: float) -> float:
    """NAB's scaledSigmoid: 2 / (1 + e^(5y)) - 1, and -1 beyond y = 3."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(rows: int, percent: float = 0.15) -> int:
    """Rows at the start of a file that are not scored: min(floor(15% of rows), 750)."""
    return int(min(math.floor(percent * rows), percent * 5000))


@dataclass
class FileRows:
    """The scored rows of one file: their anomaly scores, window ids and unit weights."""

    name: str
    scores: np.ndarray  # anomaly_score of each scored row
    window: np.ndarray  # window id (global, >= 0) or -1 outside windows
    tp_unit: np.ndarray  # sigmoid(position) / sigmoid(-1) for rows inside windows, else 0
    fp_unit: np.ndarray  # sigmoid(position past the previous window) (<= 0) outside, else 0
    windows: int  # windows with at least one scored row


def window_bounds(
    timestamps: np.ndarray, windows: Sequence[tuple[np.datetime64, np.datetime64]]
) -> list[tuple[int, int]]:
    """Row index ranges [left, right] of each window, rows taken in file order.

    A window is a timestamp range: it spans from the first row (in file order) whose
    timestamp lies in [start, end] to the last such row. Timestamps need not be sorted (a
    clock may step back once, as in some NAB files); with sorted timestamps this is exactly
    the rows with start <= t <= end. Overlapping spans (possible only with a clock stepping
    back) are merged so that every row belongs to at most one window.
    """
    ts = np.asarray(timestamps)
    spans = []
    for start, end in windows:
        inside = np.flatnonzero((ts >= start) & (ts <= end))
        if inside.size:
            spans.append((int(inside[0]), int(inside[-1])))
    spans.sort()
    out: list[tuple[int, int]] = []
    for left, right in spans:
        if out and left <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], right))
        else:
            out.append((left, right))
    return out


def file_rows(
    name: str, scores: np.ndarray, bounds: Sequence[tuple[int, int]], first_window_id: int
) -> FileRows:
    """Per-row weights of one file exactly as NAB's sweeper computes them."""
    n = len(scores)
    max_tp = scaled_sigmoid(-1.0)
    window = np.full(n, -1, dtype=np.int64)
    tp_unit = np.zeros(n)
    fp_unit = np.zeros(n)
    prev_right: int | None = None
    prev_width = 0
    bi = 0
    i = 0
    while i < n:
        if bi < len(bounds) and i == bounds[bi][0]:
            left, right = bounds[bi]
            width = right - left + 1
            for j in range(left, right + 1):
                window[j] = first_window_id + bi
                tp_unit[j] = scaled_sigmoid(-(right - j + 1) / width) / max_tp
            prev_right, prev_width = right, width
            bi += 1
            i = right + 1
            continue
        if prev_right is None:
            fp_unit[i] = -1.0
        else:
            # NAB divides by (width - 1); a one-row window would divide by zero there too,
            # so treat it as infinitely far (full FP cost).
            pos = abs(prev_right - i) / (prev_width - 1) if prev_width > 1 else math.inf
            fp_unit[i] = scaled_sigmoid(pos)
        i += 1
    start = probation_rows(n)
    scored_windows = {int(w) for w in window[start:] if w >= 0}
    return FileRows(
        name,
        np.asarray(scores, dtype=float)[start:],
        window[start:],
        tp_unit[start:],
        fp_unit[start:],
        len(scored_windows),
    )


@dataclass(frozen=True)
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    normalized: float
    tp: int  # windows detected
    fn: int  # windows missed
    fp: int  # detections outside windows


def sweep(files: Iterable[FileRows], profile: Profile) -> ProfileResult:
    """Best corpus score over every threshold (rows with score >= threshold are detections)."""
    rows = list(files)
    scores = np.concatenate([f.scores for f in rows]) if rows else np.zeros(0)
    window = np.concatenate([f.window for f in rows]) if rows else np.zeros(0, dtype=np.int64)
    tp_w = np.concatenate([f.tp_unit for f in rows]) * profile.tp if rows else np.zeros(0)
    fp_w = np.concatenate([f.fp_unit for f in rows]) * profile.fp if rows else np.zeros(0)
    n_windows = sum(f.windows for f in rows)
    null = -profile.fn * n_windows
    perfect = profile.tp * n_windows

    order = np.argsort(-scores, kind="stable")
    best_window: dict[int, float] = {}
    detected = 0.0  # sum of the best TP weight of every detected window
    fp_total = 0.0
    fp_count = 0
    total = null  # threshold above every score: nothing detected
    best = (total, math.inf, 0, n_windows, 0)
    k = 0
    while k < order.size:
        # Every row tied at this score crosses the threshold together.
        thr = scores[order[k]]
        while k < order.size and scores[order[k]] == thr:
            r = order[k]
            w = int(window[r])
            if w < 0:
                fp_total += fp_w[r]
                fp_count += 1
            else:
                old = best_window.get(w)
                if old is None:
                    best_window[w] = tp_w[r]
                    detected += tp_w[r]
                elif tp_w[r] > old:
                    best_window[w] = tp_w[r]
                    detected += tp_w[r] - old
            k += 1
        missed = n_windows - len(best_window)
        total = fp_total + detected - profile.fn * missed
        if total > best[0]:
            best = (total, float(thr), len(best_window), missed, fp_count)
    raw, thr_best, tp, fn, fp = best
    norm = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return ProfileResult(profile.name, thr_best, raw, null, perfect, norm, tp, fn, fp)


def score_at(files: Iterable[FileRows], profile: Profile, threshold: float) -> ProfileResult:
    """The corpus score at a fixed threshold (rows with score >= threshold are detections)."""
    raw = 0.0
    tp = fn = fp = n_windows = 0
    for f in files:
        hit = f.scores >= threshold
        out = hit & (f.window < 0)
        fp += int(out.sum())
        raw += float((f.fp_unit[out] * profile.fp).sum())
        for w in np.unique(f.window[f.window >= 0]):
            n_windows += 1
            rows = (f.window == w) & hit
            if rows.any():
                tp += 1
                raw += float(f.tp_unit[rows].max()) * profile.tp
            else:
                fn += 1
                raw -= profile.fn
    null = -profile.fn * n_windows
    perfect = profile.tp * n_windows
    norm = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return ProfileResult(profile.name, threshold, raw, null, perfect, norm, tp, fn, fp)
