"""Detector core behaviour (SPEC 3.2): each requirement is one test."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_service.detector import (
    DetectorConfig,
    Direction,
    SeriesBank,
    Severity,
    score_series,
)

CFG = DetectorConfig()


def noise(n: int, seed: int = 7, level: float = 100.0, sd: float = 1.0) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0.0, sd, n)


def first_open(res_open: np.ndarray, start: int = 0) -> int | None:
    idx = np.flatnonzero(res_open[start:])
    return int(idx[0]) + start if idx.size else None


def test_clean_noise_never_opens() -> None:
    res = score_series(noise(3000), direction=Direction.BOTH)
    assert not res.open.any()
    assert res.score.max() < 0.5


def test_spike_is_flagged_on_its_point_and_not_learned() -> None:
    x = noise(300)
    x[200] += 12.0
    res = score_series(x, direction=Direction.UP)
    assert res.level[200] == Severity.WARNING
    assert res.score[200] > 0.5
    # one point does not open (open_after=2) and the spike does not move the baseline
    assert not res.open.any()
    assert abs(res.baseline[201] - res.baseline[200]) < 0.1


def test_spike_opens_with_open_after_one() -> None:
    x = noise(300)
    x[200] += 12.0
    res = score_series(x, DetectorConfig(open_after=1), direction=Direction.UP)
    assert res.open[200]
    assert res.severity[200] == Severity.WARNING
    assert not res.open[:200].any()


def test_step_opens_within_open_after_points() -> None:
    x = noise(400)
    x[250:] += 8.0
    res = score_series(x, direction=Direction.UP)
    assert first_open(res.open) == 250 + CFG.open_after - 1
    assert res.severity[260] == Severity.WARNING


def test_sustained_fault_stays_open_and_return_is_not_anomalous() -> None:
    x = noise(1200)
    x[300:900] += 10.0  # 600 points = 50 minutes at 5 s
    res = score_series(x, direction=Direction.BOTH)
    assert res.open[302:900].all()
    # the baseline never learned the fault
    assert abs(res.baseline[899] - 100.0) < 0.5
    # back to normal: closes after close_after points and nothing re-opens
    assert not res.open[900 + CFG.close_after :].any()
    assert (res.level[900:] <= Severity.INFO).all()
    assert (res.level[900 + 5 :] == Severity.NORMAL).mean() > 0.99


def test_permanent_new_normal_is_adopted_after_relearn_after() -> None:
    cfg = DetectorConfig(relearn_after=200)
    x = noise(1000)
    x[300:] += 10.0
    res = score_series(x, cfg, direction=Direction.BOTH)
    assert res.open[310:490].all()
    assert not res.open[520:].any()
    assert abs(res.baseline[-1] - 110.0) < 0.5


def test_slow_drift_is_detected() -> None:
    # A drift is caught once the baseline's lag (slope / alpha) passes z_learn: the
    # baseline then stops following. Here 0.1 sd per point against alpha 0.02 (5 sd lag).
    x = noise(1000)
    x[400:] += np.arange(600) * 0.1
    res = score_series(x, direction=Direction.UP)
    opened = first_open(res.open, 400)
    assert opened is not None
    assert opened < 700
    assert not res.open[:400].any()


def test_variance_change_is_detected() -> None:
    x = noise(1200)
    x[600:] = 100.0 + np.random.default_rng(3).normal(0.0, 6.0, 600)
    res = score_series(x, direction=Direction.BOTH)
    assert not res.open[:600].any()
    assert res.open[600:800].any()


def test_direction_up_ignores_drops_and_down_ignores_rises() -> None:
    x = noise(400)
    x[250:300] -= 10.0
    x[330:380] += 10.0
    up = score_series(x, direction=Direction.UP)
    down = score_series(x, direction=Direction.DOWN)
    both = score_series(x, direction=Direction.BOTH)
    assert not up.open[250:300].any()
    assert up.open[335:380].all()
    assert down.open[255:300].all()
    assert not down.open[330:380].any()
    assert both.open[255:300].all()
    assert both.open[335:380].all()
    assert (up.score[250:300] == 0).all()


def test_critical_needs_deviation_and_impact() -> None:
    x = noise(400)
    x[250:300] += 10.0  # ~10 sd: a warning-sized deviation, value ~110
    below_slo = score_series(x, direction=Direction.UP, floor=150.0)
    above_slo = score_series(x, direction=Direction.UP, floor=105.0)
    no_slo = score_series(x, direction=Direction.UP, floor=None)
    assert below_slo.severity[260] == Severity.WARNING
    assert above_slo.severity[260] == Severity.CRITICAL
    assert no_slo.severity[260] == Severity.WARNING
    # impact alone is not critical: a series living above its SLO is not anomalous
    hot = score_series(noise(300), direction=Direction.UP, floor=50.0)
    assert (hot.severity == Severity.NORMAL).all()


def test_a_critical_point_opens_at_once_and_a_warning_one_waits_for_open_after() -> None:
    x = noise(300)
    x[200] += 12.0  # one 12 sd point, value ~112
    beyond_slo = score_series(x, direction=Direction.UP, floor=105.0)
    under_slo = score_series(x, direction=Direction.UP, floor=150.0)
    assert beyond_slo.open[200]
    assert beyond_slo.severity[200] == Severity.CRITICAL
    assert not beyond_slo.open[:200].any()
    assert under_slo.level[200] == Severity.WARNING
    assert not under_slo.open.any()
    # the same point under open_after_critical=2 waits for a second one
    two = score_series(x, DetectorConfig(open_after_critical=2), Direction.UP, floor=105.0)
    assert not two.open.any()
    # a step beyond the SLO: open (critical) on its first point, not open_after points in
    y = noise(400)
    y[250:] += 10.0
    step = score_series(y, direction=Direction.UP, floor=105.0)
    assert first_open(step.open) == 250
    assert step.severity[250] == Severity.CRITICAL


def test_open_after_critical_must_lie_between_one_and_open_after() -> None:
    for bad in (0, 3):
        with pytest.raises(ValueError, match="open_after_critical"):
            DetectorConfig(open_after_critical=bad)
    assert DetectorConfig(open_after=3, open_after_critical=3).open_after_critical == 3


def test_severity_boundaries_info_warning() -> None:
    cfg = DetectorConfig(open_after=1)
    x = np.full(200, 100.0) + np.tile([0.5, -0.5], 100)
    # spread: mean absolute deviation 0.5 -> sigma 0.627 (floor 1% of 100 = 1.0 wins)
    res = score_series(x, cfg, direction=Direction.UP)
    spread = 1.0
    y = np.concatenate(
        [x, [100.0 + 3.9 * spread, 100.0 + 4.5 * spread, 100.0, 100.0 + 6.5 * spread]]
    )
    res = score_series(y, cfg, direction=Direction.UP)
    assert res.level[200] == Severity.NORMAL  # below z_info = 4
    assert res.level[201] == Severity.INFO  # between z_info and z_warning = 6
    assert res.level[203] == Severity.WARNING


def test_down_critical_with_floor() -> None:
    x = noise(400, level=1.0, sd=0.001)
    x[250:] = 0.5  # availability falls from 1.0 to 0.5, SLO 0.9
    res = score_series(x, direction=Direction.DOWN, floor=0.9)
    assert res.severity[255] == Severity.CRITICAL


def test_hysteresis_open_after_n_close_after_m() -> None:
    cfg = DetectorConfig(open_after=3, close_after=4)
    x = noise(300)
    x[200:202] += 12.0  # two abnormal points: not enough to open
    x[250:260] += 12.0
    res = score_series(x, cfg, direction=Direction.UP)
    assert not res.open[200:250].any()
    assert first_open(res.open, 240) == 252
    assert res.open[252:263].all()  # 260, 261, 262 normal: still open
    assert not res.open[263]  # fourth normal point closes


def test_warmup_holds_normal_and_matches_min_points() -> None:
    res = score_series(noise(100), direction=Direction.BOTH)
    assert res.warming[: CFG.min_points].all()
    assert not res.warming[CFG.min_points :].any()
    assert (res.level[: CFG.min_points] == Severity.NORMAL).all()
    assert (res.score[: CFG.min_points] == 0).all()


def test_spike_during_warmup_is_held_normal_and_not_learned() -> None:
    # `make up`, then a load spike a minute later: the spike must not become the normal.
    clean = noise(200)
    x = clean.copy()
    x[12:30] += 40.0
    res = score_series(x, direction=Direction.UP)
    ref = score_series(clean, direction=Direction.UP)
    assert (res.level[:30] == Severity.NORMAL).all()
    assert not res.open[:30].any()
    # The 18 spiked points were not counted: warm-up ends 18 points later.
    assert res.warming[: CFG.min_points + 18].all()
    assert not res.warming[CFG.min_points + 18 :].any()
    # Afterwards the band is the clean one, so a +8 sd step is caught as it would be.
    assert abs(res.baseline[100] - ref.baseline[100]) < 0.5
    assert abs(res.upper[100] - ref.upper[100]) < 1.0
    y = x.copy()
    y[150:] += 8.0
    assert first_open(score_series(y, direction=Direction.UP).open) == 150 + CFG.open_after - 1


def test_level_change_during_warmup_is_adopted_after_min_points() -> None:
    # A service that settles at another level right after start (caches warm, traffic begins)
    # gets that level as its normal after min_points points, not after relearn_after.
    x = noise(300)
    x[12:] += 20.0
    res = score_series(x, direction=Direction.BOTH)
    assert not res.open.any()
    assert abs(res.baseline[-1] - 120.0) < 1.0
    assert not res.warming[12 + 2 * CFG.min_points :].any()


def test_nan_and_inf_are_missing_and_never_poison_state() -> None:
    x = noise(400)
    x[100:110] = np.nan
    x[150] = np.inf
    x[151] = -np.inf
    res = score_series(x, direction=Direction.BOTH)
    assert np.isfinite(res.baseline).all()
    assert np.isfinite(res.upper).all()
    assert res.missing[100:110].all()
    assert res.missing[150:152].all()
    assert (res.level[res.missing] == Severity.NORMAL).all()
    assert not res.open.any()
    # missing points are not counted towards warm-up either
    y = np.concatenate([np.full(20, np.nan), noise(50)])
    res2 = score_series(y)
    assert res2.warming[: 20 + CFG.min_points].all()


def test_missing_points_hold_an_open_anomaly() -> None:
    x = noise(400)
    x[250:] += 10.0
    x[300:320] = np.nan
    res = score_series(x, direction=Direction.UP)
    assert res.open[252:].all()


def test_flat_series_uses_spread_floor() -> None:
    x = np.full(300, 50.0)
    x[200:] = 50.2  # within 1% of the level: normal
    res = score_series(x, direction=Direction.BOTH)
    assert not res.open.any()
    x[250:] = 60.0
    res = score_series(x, direction=Direction.BOTH)
    assert res.open[252]
    zeros = np.zeros(300)
    zeros[250:] = 1.0
    res = score_series(zeros, direction=Direction.UP, min_spread=0.01)
    assert np.isfinite(res.score).all()
    assert res.open[252]
    res = score_series(np.zeros(300), direction=Direction.UP)
    assert not res.open.any()


def test_bank_matches_score_series_and_slots_are_independent() -> None:
    bank = SeriesBank(CFG, capacity=2)  # grows past its capacity
    keys = [("orders", "latency"), ("users", "latency"), ("payments", "cpu")]
    slots = np.array([bank.slot(k, Direction.UP, None) for k in keys])
    data = np.stack([noise(300, seed=s) for s in (1, 2, 3)])
    data[1, 200:] += 20.0
    opened = []
    for t in range(300):
        v = bank.update(slots, data[:, t])
        opened.append(v.open.copy())
    ref = score_series(data[1], direction=Direction.UP)
    assert np.array_equal(np.array(opened)[:, 1], ref.open)
    assert not np.array(opened)[:, [0, 2]].any()
    bank.release(keys[1])
    assert keys[1] not in bank
    assert len(bank) == 2
    new = bank.slot("fresh", Direction.BOTH, None)
    assert new == slots[1]
    assert bank.snapshot(new)["n"] == 0


def test_seed_equals_streaming_the_history() -> None:
    hist = noise(500)
    bank = SeriesBank(CFG)
    bank.slot("a", Direction.UP, None)
    bank.seed("a", hist)
    other = SeriesBank(CFG)
    slot = other.slot("a", Direction.UP, None)
    for value in hist:
        other.update(np.array([slot]), np.array([value]))
    a, b = bank.snapshot(0), other.snapshot(slot)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key] or (np.isnan(a[key]) and np.isnan(b[key])), key
    with pytest.raises(KeyError):
        bank.seed("unknown", hist)


def test_bad_input_is_rejected_clearly() -> None:
    bank = SeriesBank(CFG)
    s = bank.slot("a", Direction.UP, None)
    with pytest.raises(ValueError, match="same length"):
        bank.update(np.array([s]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="out of range"):
        bank.update(np.array([9999]), np.array([1.0]))
    with pytest.raises(ValueError, match="once"):
        bank.update(np.array([s, s]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\], got 0.0"):
        DetectorConfig(alpha=0.0)
    with pytest.raises(ValueError, match="direction must be up, down or both"):
        Direction.parse("sideways")
    assert Direction.parse(" Up ") is Direction.UP
    assert CFG.to_dict()["z_warning"] == CFG.z_warning


def test_onset_score_is_high_at_the_start_of_a_fault_only() -> None:
    x = noise(1500)
    x[1200:1400] += 10.0
    res = score_series(x, direction=Direction.BOTH)
    at_start = res.onset[1200:1206].max()
    # after the onset score's own warm-up (min_points + onset_warmup judged points), the
    # fault's first points outscore every point of the clean noise before it...
    assert at_start > res.onset[300:1200].max()
    # ...and the rest of the fault scores far lower while the deviation score stays high
    assert res.onset[1220:1400].max() < 0.5 * at_start
    assert (res.score[1210:1400] > 0.5).all()  # while the deviation score stays high
    assert ((res.onset >= 0) & (res.onset < 1)).all()


@pytest.mark.parametrize(("rule", "ratio"), [("peak", 0.25), ("conformal", 0.5)])
def test_recurring_pattern_becomes_unsurprising(rule: str, ratio: float) -> None:
    # a square wave (two normal modes) keeps re-appearing after 500 points of noise: later
    # edges score far below the first. Under the peak rule they score ~0; under conformal
    # they rank among the stored block maxima of earlier edges (q about 2.5-2.9, under alarm_q)
    x = noise(3000) + np.where((np.arange(3000) // 100) % 2 == 1, 30.0, 0.0)
    x[:500] = noise(500, seed=11)
    res = score_series(x, DetectorConfig(onset_rule=rule), direction=Direction.BOTH)
    first_edge = res.onset[500:510].max()
    late_edges = max(res.onset[2500 + k * 100 : 2510 + k * 100].max() for k in range(5))
    assert late_edges < ratio * first_edge


def test_queued_seeds_of_many_series_equal_streaming_each() -> None:
    hists = [noise(n, seed=n) for n in (50, 300, 120)]
    hists[1][200:260] += 15.0  # an incident in the history: state must match exactly
    bank = SeriesBank(CFG)
    for k, h in enumerate(hists):
        bank.slot(k, Direction.UP, 150.0)
        bank.seed(k, h[: len(h) // 2])
        bank.seed(k, h[len(h) // 2 :])  # a second seed continues the first
    bank.slot("gone", Direction.UP, None)
    bank.seed("gone", noise(10))
    bank.release("gone")  # a released series' queued seed is dropped
    ref = SeriesBank(CFG)
    for k, h in enumerate(hists):
        s = ref.slot(k, Direction.UP, 150.0)
        for value in h:
            ref.update(np.array([s]), np.array([value]))
    for k in range(3):
        a, b = bank.snapshot(bank.key_slot(k) or 0), ref.snapshot(ref.key_slot(k) or 0)
        for key in a:
            assert a[key] == pytest.approx(b[key], nan_ok=True, rel=1e-12), (k, key)
        assert np.allclose(bank._hist[bank.key_slot(k) or 0], ref._hist[ref.key_slot(k) or 0])
    # the next update sees the seeded state (every history is past the 30-point warm-up)
    v = bank.update(np.array([0, 1, 2]), np.array([100.0, 100.0, 100.0]))
    assert not v.warming.any()


def held_shift(length: int, start: int, size: float) -> np.ndarray:
    """Noise, then a constant level `size` above it from `start` (z between info and warning)."""
    x = noise(length)
    x[start:] = 100.0 + size
    return x


def test_a_deviation_held_beyond_the_floor_for_escalate_after_points_is_critical() -> None:
    res = score_series(held_shift(400, 250, 5.0), direction=Direction.UP, floor=103.0)
    assert (res.level[250:] == Severity.INFO).all()  # z about 5: below z_warning
    assert res.severity[250 + CFG.open_after - 1] == Severity.INFO
    assert res.severity[250 + CFG.escalate_after - 2] == Severity.INFO
    assert (res.severity[250 + CFG.escalate_after - 1 :] == Severity.CRITICAL).all()


def test_a_held_deviation_within_the_floor_or_without_one_stays_info() -> None:
    for floor in (None, 110.0):
        res = score_series(held_shift(400, 250, 5.0), direction=Direction.UP, floor=floor)
        assert res.open[260]
        assert res.severity.max() == Severity.INFO


def test_a_short_excursion_between_info_and_warning_stays_info() -> None:
    x = noise(400)
    x[250 : 250 + CFG.escalate_after - 1] = 105.0
    res = score_series(x, direction=Direction.UP, floor=103.0)
    assert res.open[251]
    assert res.severity.max() == Severity.INFO


def test_a_breach_of_the_floor_held_within_a_wide_band_is_critical() -> None:
    """A busy host's p99: sd 3 around 100 (band top ~115) and an SLO at 103. A fault that holds
    the signal at 108 sits at z ~2.5, inside the band, but 30 s beyond the SLO is impact."""
    x = noise(400, sd=3.0)
    x[250:] = 108.0
    res = score_series(x, direction=Direction.UP, floor=103.0)
    assert (res.level[250 : 250 + CFG.escalate_after - 1] == Severity.NORMAL).all()
    assert not res.open[250 + CFG.escalate_after - 2]
    assert res.severity[250 + CFG.escalate_after - 1] == Severity.CRITICAL
    assert res.open[250 + CFG.escalate_after - 1 :].all()
    off = score_series(x, DetectorConfig(escalate_after=0), Direction.UP, floor=103.0)
    assert not off.open[250:].any()


def test_a_breach_ends_with_the_first_point_back_inside_the_floor() -> None:
    x = noise(400, sd=3.0)
    for start in (250, 262, 274):  # 5 points beyond the SLO, then one back inside: no anomaly
        x[start - 1] = 100.0  # the noise itself crosses 103 one point in six
        x[start : start + CFG.escalate_after - 1] = 108.0
        x[start + CFG.escalate_after - 1] = 100.0
    res = score_series(x, direction=Direction.UP, floor=103.0)
    assert not res.open[250:].any()
    x[300:] = 108.0
    res = score_series(x, direction=Direction.UP, floor=103.0)
    assert res.open[300 + CFG.escalate_after - 1 :].all()
    closed = first_open(~res.open, 300 + CFG.escalate_after)
    assert closed is None


def test_no_breach_when_the_baseline_itself_is_beyond_the_floor_or_there_is_none() -> None:
    """A service whose normal already sits above its SLO is the wide band's business alone;
    a down-going floor (availability) breaches below it."""
    x = noise(400, sd=3.0)
    x[250:] = 108.0
    for floor in (None, 98.0):
        assert not score_series(x, direction=Direction.UP, floor=floor).open[250:].any()
    y = noise(400, sd=3.0)
    y[250:] = 92.0
    res = score_series(y, direction=Direction.DOWN, floor=97.0)
    assert res.severity[250 + CFG.escalate_after - 1] == Severity.CRITICAL


def test_escalation_can_be_turned_off_and_is_validated() -> None:
    off = DetectorConfig(escalate_after=0)
    res = score_series(held_shift(400, 250, 5.0), off, Direction.UP, floor=103.0)
    assert res.severity.max() == Severity.INFO
    with pytest.raises(ValueError, match="escalate_after"):
        DetectorConfig(open_after=3, escalate_after=2)
