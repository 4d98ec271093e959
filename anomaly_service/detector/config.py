"""Severity, direction and the detector's tunables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    NORMAL = 0
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @property
    def word(self) -> str:
        """The lower-case word used on the wire (`normal`, `info`, ...)."""
        return self.name.lower()


class Direction(IntEnum):
    UP = 1
    DOWN = -1
    BOTH = 0

    @classmethod
    def parse(cls, text: str) -> Direction:
        """`up`, `down` or `both` (case-insensitive) to a Direction."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"direction must be up, down or both, not {text!r}") from None


@dataclass(frozen=True)
class DetectorConfig:
    """Every tunable of the detector; one point is one cycle (5 s in the service)."""

    # Baseline: exponentially weighted Huber location and mean absolute deviation.
    alpha: float = 0.005  # level learning rate (~200-point memory: 17 min at 5 s)
    alpha_spread: float = 0.002  # spread learning rate (slower: a drift must not widen it)
    alpha_bias: float = 0.02  # running mean of residuals; the spread is measured around it
    huber_k: float = 3.0  # residuals are clipped at huber_k spreads before learning
    # Spread floor: max(spread, rel * |baseline|, abs); a per-series abs floor may override.
    min_spread_rel: float = 0.01
    min_spread_abs: float = 1e-9
    # Deviation thresholds in robust standard deviations (one-sided in the bad direction).
    z_info: float = 4.0
    z_warning: float = 6.0
    # Points beyond z_learn (either side) are not learned by the baseline.
    z_learn: float = 3.5
    # Warm-up: no verdict beyond normal until this many valid points were learned.
    min_points: int = 30
    # Hysteresis: open after N consecutive abnormal points, close after M normal ones.
    open_after: int = 2
    close_after: int = 3
    # A critical point (z_warning or more, and beyond the floor/SLO) opens after this many. The
    # stack's SLO signals are 15 s windows read every 5 s: a burst stays in three windows in a
    # row, so a second point confirms nothing the window did not (their own filter is a count of
    # bad requests in the query) and only waited 5 s (docs/detector.md).
    open_after_critical: int = 1
    # Sustained impact: this many consecutive points at info or above, beyond the floor/SLO,
    # count as critical whatever the spread (0 = off). A noisy series, such as the p99 of a few
    # requests per second on a busy host, can have a spread so wide that a real fault sits
    # between z_info and z_warning; held for 30 s beyond the SLO it is no wiggle.
    escalate_after: int = 6
    # New normal: after this many consecutive unlearned points the baseline is replaced by
    # a shadow estimate that learned every point (720 points = 1 h at 5 s).
    relearn_after: int = 720
    # Onset score (anomaly likelihood over the deviation): short and long memories.
    alpha_fast: float = 0.01
    alpha_fast_spread: float = 0.001
    huber_fast: float = 3.0
    alpha_short: float = 0.3
    alpha_long: float = 0.002
    likelihood_warmup: int = 30
    likelihood_scale: float = 5.0
    likelihood_min_var: float = 1e-4
    rarity_bins: int = 24
    rarity_width: float = 0.5  # bin width in fast spreads (24 bins cover +-6)
    alpha_rarity: float = 0.0005  # histogram memory ~2000 points
    # Sequence rarity (0 = off): how rare the last seq_order coarse levels are together.
    seq_order: int = 0
    alpha_seq: float = 0.001
    seq_weight: float = 1.0
    # Onset score (NAB's anomaly_score), rule "peak" (the default until 2026-11-30): onset =
    # likelihood minus its recent peak, forgotten with a half-life of onset_memory points,
    # counted after onset_warmup judged points.
    onset_memory: float = 1000.0
    onset_warmup: int = 200
    # "conformal" (default: calibrated, it transfers to data it was not tuned on), "peak" or
    # "rest"; see docs/detector.md
    onset_rule: str = "conformal"
    # Rule "rest": the likelihood is calibrated per series into a tail probability p (an
    # exponential tail fitted above tail_u: the share of values above it and their mean
    # excess, clipped at tail_clip mean excesses, memory ~1/alpha_cal points), q = -log10 p.
    # An onset
    # is reported when q >= alarm_q, then the series rests rest_points points, during which
    # only a breakthrough (q beyond the last alarm's q by breakthrough_q) is reported. Outside
    # a rest an optional recurrence gate (rest_gate; off: it lowers nab-dev's out-of-sample
    # score, see docs) asks q to reach the recent alarms' q (forgotten with a half-life of
    # gate_memory points) minus gate_slack. Nothing before rest_warmup
    # calibrated points (a fixed count).
    alpha_cal: float = 0.002
    tail_u: float = 1.0
    tail_clip: float = 3.0
    alarm_q: float = 3.0
    rest_points: int = 75
    breakthrough_q: float = 1.0
    rest_gate: bool = False
    gate_slack: float = 1.0
    gate_memory: float = 1000.0
    rest_warmup: int = 100
    # Rule "conformal": q = -log10 of the conformal p-value of the likelihood against the
    # maxima of its last conf_blocks blocks of conf_block points (a ring buffer of 32 float32
    # per series covering 512 points), then the same rest, breakthrough and gate as "rest".
    # Nothing before conf_min_blocks blocks are stored.
    conf_blocks: int = 32
    conf_block: int = 16
    conf_min_blocks: int = 8
    # Sequence-novelty confirmation (rules "rest" and "conformal"; off: see docs/detector.md).
    # Only where q >= nov_q (a would-be report), the last nov_window fast z-scores, coded as
    # the log of their excess over nov_dead fast spreads, are compared with a codebook of the
    # series' last nov_codes new candidate windows (int8 codes): a window within nov_match
    # (log units, at every point) of one of them is not new and its q loses nov_penalty;
    # one that matches none is stored (a recurring shape is stored once) and, if borderline
    # (q < alarm_q), gains nov_boost.
    novelty: bool = False
    nov_window: int = 6
    nov_codes: int = 16
    nov_q: float = 2.0
    nov_dead: float = 3.0
    nov_match: float = 0.5
    nov_penalty: float = 1.0
    nov_boost: float = 0.5
    # Consensus tier over the onset rule (detector/consensus.py; docs/detector.md): a point
    # that fails cons_votes of 7 tests against its series' whole history (cons_sd standard
    # deviations from its mean, a day-old mean, an EW mean of centre of mass cons_ewm_com
    # and a least-squares line; cons_mad MADs from its median; a bin of cons_bins over its
    # range holding <= cons_bin_count points) scores 0.75, then the series rests
    # cons_expiry_s seconds, in which the rule's onset is muted; outside it, the rule's onset
    # is halved (below 0.5). cons_lag_s: "a day ago" of the lagged test. The history's
    # median, MAD and bins come from a range-doubling histogram of cons_hist_bins bins.
    # Times are the points' timestamps when given, else cycle_s seconds per point.
    consensus: bool = True
    cons_votes: int = 5
    cons_sd: float = 3.0
    cons_mad: float = 6.0
    cons_bins: int = 15
    cons_bin_count: int = 20
    cons_ewm_com: float = 50.0
    cons_lag_s: float = 82800.0
    cons_expiry_s: float = 43200.0
    cons_hist_bins: int = 64
    cycle_s: float = 5.0

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if self.onset_rule not in ("peak", "rest", "conformal"):
            raise ValueError(
                f"onset_rule must be 'peak', 'rest' or 'conformal', got {self.onset_rule!r}"
            )
        for holds, message in _RULES:
            if not holds(self):
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every setting (served by GET /models)."""
        return asdict(self)


# Smoothing factors of exponential averages: each in (0, 1].
_RATES = (
    "alpha",
    "alpha_spread",
    "alpha_bias",
    "alpha_fast",
    "alpha_fast_spread",
    "alpha_short",
    "alpha_long",
    "alpha_rarity",
    "alpha_cal",
)
# What a usable configuration satisfies, with the message when it does not (checked in order).
_RULES: tuple[tuple[Callable[[DetectorConfig], bool], str], ...] = (
    (lambda c: 0.0 < c.z_info <= c.z_warning, "need 0 < z_info <= z_warning"),
    (lambda c: c.z_learn > 0 and c.huber_k > 0, "z_learn and huber_k must be positive"),
    (
        lambda c: c.min_spread_rel >= 0 and c.min_spread_abs > 0,
        "min_spread_rel must be >= 0 and min_spread_abs > 0",
    ),
    (
        lambda c: c.min_points >= 2 and c.open_after >= 1 and c.close_after >= 1,
        "need min_points >= 2, open_after >= 1, close_after >= 1",
    ),
    (
        lambda c: 1 <= c.open_after_critical <= c.open_after,
        "need 1 <= open_after_critical <= open_after",
    ),
    (
        lambda c: c.huber_fast > 0 and c.likelihood_scale > 0 and c.likelihood_min_var > 0,
        "huber_fast, likelihood_scale and likelihood_min_var must be > 0",
    ),
    (
        lambda c: c.likelihood_warmup >= 1 and c.onset_memory > 0 and c.onset_warmup >= 0,
        "likelihood_warmup must be >= 1 and onset_memory > 0",
    ),
    (
        lambda c: c.rarity_bins >= 2 and c.rarity_width > 0,
        "rarity_bins must be >= 2 and rarity_width > 0",
    ),
    (
        lambda c: c.conf_block >= 1 and 1 <= c.conf_min_blocks <= c.conf_blocks,
        "need conf_block >= 1 and 1 <= conf_min_blocks <= conf_blocks",
    ),
    (lambda c: c.gate_memory > 0, "gate_memory must be > 0"),
    (
        lambda c: not c.novelty or c.onset_rule in ("rest", "conformal"),
        "novelty needs a calibrated onset rule ('rest' or 'conformal')",
    ),
    (
        lambda c: 1 <= c.nov_window <= 64 and 1 <= c.nov_codes <= 256,
        "need 1 <= nov_window <= 64 and 1 <= nov_codes <= 256",
    ),
    (
        lambda c: (
            0 < c.nov_q <= c.alarm_q
            and c.nov_dead >= 0
            and c.nov_match > 0
            and min(c.nov_penalty, c.nov_boost) >= 0
        ),
        "need 0 < nov_q <= alarm_q, nov_dead >= 0, nov_match > 0, nov_penalty and nov_boost >= 0",
    ),
    (
        lambda c: c.tail_u > 0 and c.tail_clip > 0 and c.rest_points >= 0,
        "need tail_u > 0, tail_clip > 0 and rest_points >= 0",
    ),
    (
        lambda c: c.alarm_q > 0 and c.breakthrough_q >= 0 and c.gate_slack >= 0,
        "need alarm_q > 0, breakthrough_q >= 0 and gate_slack >= 0",
    ),
    (
        lambda c: not c.escalate_after or c.escalate_after >= c.open_after,
        "escalate_after must be 0 (off) or >= open_after",
    ),
    (lambda c: c.relearn_after >= c.open_after, "relearn_after must be >= open_after"),
    (
        lambda c: 1 <= c.cons_votes <= 7 and c.cons_sd > 0 and c.cons_mad > 0,
        "need 1 <= cons_votes <= 7, cons_sd > 0 and cons_mad > 0",
    ),
    (
        lambda c: c.cons_bins >= 1 and c.cons_bin_count >= 0 and c.cons_ewm_com >= 0,
        "need cons_bins >= 1, cons_bin_count >= 0 and cons_ewm_com >= 0",
    ),
    (
        lambda c: c.cons_lag_s > 0 and c.cons_expiry_s >= 0 and c.cycle_s > 0,
        "need cons_lag_s > 0, cons_expiry_s >= 0 and cycle_s > 0",
    ),
    (
        lambda c: c.cons_hist_bins >= 2 and c.cons_hist_bins % 2 == 0,
        "cons_hist_bins must be an even number >= 2",
    ),
)
