"""The onset channel's anomaly likelihoods: per-point surprises and their -log10 tail pipeline."""

from __future__ import annotations

import numpy as np

from anomaly_service.detector.config import DetectorConfig, Direction
from anomaly_service.detector.stats import neg_log10_tail

Arrays = dict[str, np.ndarray]
_UP, _DOWN = int(Direction.UP), int(Direction.DOWN)


def channel(
    c: DetectorConfig,
    f: Arrays,
    key: str,
    surprise: np.ndarray,
    scored: np.ndarray,
    live: np.ndarray,
    a_l: np.ndarray,
) -> np.ndarray:
    """One likelihood channel (deviation key "", value rarity "2", sequence rarity "3"): the
    per-point `surprise` -> its short mean -> a z-score against the long mean/variance of
    that short mean -> -log10 of the Gaussian tail (0 where not `live`). Learns
    short<key>, lmean<key> and lvar<key> in `f` (long rate `a_l`); returns the -log10 tail."""
    s_key, m_key, v_key = "short" + key, "lmean" + key, "lvar" + key
    short = np.where(scored, f[s_key] + c.alpha_short * (surprise - f[s_key]), f[s_key])
    lmean, lvar = f[m_key], f[v_key]
    zl = (short - lmean) / np.sqrt(np.maximum(lvar, c.likelihood_min_var))
    lq = np.where(live, neg_log10_tail(zl), 0.0)
    delta = short - lmean
    f[m_key] = np.where(scored, lmean + a_l * delta, lmean)
    f[v_key] = np.where(scored, (1 - a_l) * (lvar + a_l * delta * delta), lvar)
    f[s_key] = short
    return np.asarray(lq)


def value_rarity(
    c: DetectorConfig,
    hist_all: np.ndarray,
    s: np.ndarray,
    whole: bool,
    fz: np.ndarray,
    direction: np.ndarray,
    valid: np.ndarray,
    scored: np.ndarray,
) -> np.ndarray:
    """Value rarity: -log of how often values fell in this bin of fz (bins rarity_width
    spreads wide) over ~1/alpha_rarity points; multimodal series learn all modes. Learns
    the rows `s` of `hist_all` (all of it, in place, when `whole`)."""
    nb = c.rarity_bins
    b = np.clip(np.floor(fz / c.rarity_width) + nb // 2, 0, nb - 1).astype(np.intp)
    in_dir = np.where(direction == _UP, fz > 0, np.where(direction == _DOWN, fz < 0, True))
    return _rarity(hist_all, s, whole, b, valid, scored & in_dir, c.alpha_rarity)


def seq_rarity(
    c: DetectorConfig,
    table_all: np.ndarray,
    s: np.ndarray,
    whole: bool,
    i: Arrays,
    fz: np.ndarray,
    valid: np.ndarray,
    scored: np.ndarray,
) -> np.ndarray:
    """Sequence rarity: -log of how often the last seq_order coarse levels (fz rounded,
    clipped to +-2: 5 levels) occurred, from an exponentially weighted table of the
    5^seq_order codes (the rows `s` of `table_all`, all of it when `whole`). Learns the
    code of the last levels in i["seq"]."""
    codes = table_all.shape[1]
    level = np.clip(np.rint(fz), -2, 2).astype(np.int64) + 2
    code = np.where(valid, (i["seq"] * 5 + level) % codes, i["seq"])
    i["seq"] = code
    return _rarity(table_all, s, whole, code, valid, scored, c.alpha_seq)


def _rarity(
    table_all: np.ndarray,
    s: np.ndarray,
    whole: bool,
    idx: np.ndarray,
    valid: np.ndarray,
    judged: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """-log of the learned frequency of entry `idx` in each slot's row (0 where not
    `judged`), then learn `idx` at rate `alpha` where `valid`: the rows `s` of `table_all`
    (all of it, in place, when `whole`)."""
    table = table_all if whole else table_all[s]
    rare = np.where(judged, -np.log(table[np.arange(s.size), idx] + 1e-6), 0.0)
    table *= np.where(valid, 1.0 - alpha, 1.0)[:, None]  # in place, no gather
    table[np.flatnonzero(valid), idx[valid]] += alpha
    if not whole:
        table_all[s] = table
    return np.asarray(rare)
