"""The severity channel: each point's raw level (deviation, SLO impact, sustained breach)
and the hysteresis that opens, escalates, de-escalates and closes anomalies."""

from __future__ import annotations

import numpy as np

from anomaly_service.detector.config import DetectorConfig, Direction, Severity

Arrays = dict[str, np.ndarray]
# Plain ints: enum attribute access is slow in the per-update hot path.
_UP, _DOWN = int(Direction.UP), int(Direction.DOWN)
_NORMAL, _INFO, _WARNING, _CRITICAL = (int(s) for s in Severity)


def raw_level(
    c: DetectorConfig,
    i: Arrays,
    d: np.ndarray,
    z: np.ndarray,
    xv: np.ndarray,
    m: np.ndarray,
    floor: np.ndarray,
    direction: np.ndarray,
    widen: np.ndarray,
    valid: np.ndarray,
    warming: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The raw Severity of each point from its bad-direction deviation `d` (thresholds times
    `widen`), critical where the value is beyond the floor/SLO (impact); then the sustained
    breach rule. Returns (level, impact, in_breach)."""
    has_floor = np.isfinite(floor)
    above = xv >= floor
    below = xv <= floor
    # BOTH: the floor is a limit on whichever side of the baseline it lies.
    impact_both = np.where(floor >= m, above & (z > 0), below & (z < 0))
    impact = has_floor & np.where(
        direction == _UP,
        above,
        np.where(direction == _DOWN, below, impact_both),
    )
    level = np.where(
        d >= c.z_warning * widen,
        np.where(impact, _CRITICAL, _WARNING),
        np.where(d >= c.z_info * widen, _INFO, _NORMAL),
    ).astype(np.int8)
    level, in_breach = sustained_breach(c, level, impact, valid, warming, m, floor, direction, i)
    return level, impact, in_breach


def sustained_breach(
    c: DetectorConfig,
    level: np.ndarray,
    impact: np.ndarray,
    valid: np.ndarray,
    warming: np.ndarray,
    m: np.ndarray,
    floor: np.ndarray,
    direction: np.ndarray,
    i: Arrays,
) -> tuple[np.ndarray, np.ndarray]:
    """Count the points in a row beyond the floor/SLO while the baseline is on its good side;
    those past escalate_after are in a sustained breach (returned as a mask) and lifted to
    info at least: an SLO breach held that long is news whatever the spread (a busy host's
    p99 band can be wider than the SLO's margin)."""
    inside = np.where(direction == _UP, m < floor, np.where(direction == _DOWN, m > floor, False))
    run = i["breach_run"]
    i["breach_run"] = np.where(valid, np.where(~warming & impact & inside, run + 1, 0), run)
    n = c.escalate_after
    in_breach = (i["breach_run"] >= n) if n else np.zeros_like(valid)
    return np.where(in_breach, np.maximum(level, _INFO), level).astype(np.int8), in_breach


def hysteresis(
    c: DetectorConfig,
    i: Arrays,
    level: np.ndarray,
    valid: np.ndarray,
    impact: np.ndarray,
    in_breach: np.ndarray,
    was_open: np.ndarray,
    prev_sev: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Runs of consecutive points at or above each level open an anomaly (open_after;
    open_after_critical for critical points) and escalate it; impact held escalate_after
    points is critical; close_after points below its severity de-escalate it, close_after
    normal points close it. Returns (open, severity)."""
    runs = []
    for k, name in ((1, "run1"), (2, "run2"), (3, "run3")):
        run = np.where(valid, np.where(level >= k, i[name] + 1, 0), i[name])
        i[name] = run
        runs.append(run)
    cand = np.where(
        runs[2] >= c.open_after_critical,
        3,
        np.where(runs[1] >= c.open_after, 2, np.where(runs[0] >= c.open_after, 1, 0)),
    ).astype(np.int8)
    if c.escalate_after:
        held = ((runs[0] >= c.escalate_after) | in_breach) & impact
        cand = np.where(held, _CRITICAL, cand).astype(np.int8)
    normal_run = np.where(valid, np.where(level == 0, i["normal_run"] + 1, 0), i["normal_run"])
    below_run = np.where(valid, np.where(level < prev_sev, i["below_run"] + 1, 0), i["below_run"])
    is_open = was_open | (cand > 0)
    sev = np.where(cand > prev_sev, cand, prev_sev)
    # De-escalate an open anomaly only after close_after points below its severity.
    sev = np.where(is_open & (below_run >= c.close_after), np.maximum(cand, 1), sev)
    close = is_open & (normal_run >= c.close_after)
    is_open = is_open & ~close
    sev = np.where(is_open, sev, 0).astype(np.int8)
    below_run = np.where(sev != prev_sev, 0, below_run)
    i["normal_run"] = normal_run
    i["below_run"] = below_run
    return is_open, sev
