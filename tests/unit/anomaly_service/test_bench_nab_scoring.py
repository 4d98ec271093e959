"""NAB scorer on a hand-made corpus whose score is worked out by hand below."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anomaly_service.bench.nab_scoring import (
    PROFILES,
    Profile,
    file_rows,
    probation_rows,
    scaled_sigmoid,
    sweep,
)

STANDARD, LOW_FP, LOW_FN = PROFILES


def test_scaled_sigmoid_and_probation() -> None:
    # 2 / (1 + e^(5y)) - 1
    assert scaled_sigmoid(-1.0) == pytest.approx(0.986614, abs=1e-6)  # window start
    assert scaled_sigmoid(0.0) == 0.0  # window end
    assert scaled_sigmoid(1.0) == pytest.approx(-0.986614, abs=1e-6)
    assert scaled_sigmoid(3.5) == -1.0  # beyond 3: -1
    assert probation_rows(20) == 3  # floor(0.15 * 20)
    assert probation_rows(4033) == 604
    assert probation_rows(10_000) == 750  # capped at 0.15 * 5000


def corpus() -> list:
    # File A: 20 rows, probation 3 rows, one window on rows 8..11 (width 4).
    a = np.zeros(20)
    a[1] = 1.0  # in probation: never scored
    a[5] = 0.9  # before any window: FP at full cost (unit -1)
    a[9] = 0.8  # in window, y = -(11 - 9 + 1) / 4 = -0.75
    a[10] = 0.95  # in window, y = -(11 - 10 + 1) / 4 = -0.5
    a[14] = 0.7  # after the window, y = |11 - 14| / (4 - 1) = 1.0
    # File B: 10 rows, probation 1 row, no window.
    b = np.zeros(10)
    b[4] = 0.85  # FP at full cost
    return [file_rows("a.csv", a, [(8, 11)], 0), file_rows("b.csv", b, [], 1)]


def test_row_weights_by_hand() -> None:
    a, b = corpus()
    assert a.scores.size == 17
    assert b.scores.size == 9  # probation rows dropped
    max_tp = 2 / (1 + math.exp(-5)) - 1  # 0.986614
    # a.tp_unit is indexed from row 3 (first scored row)
    assert a.tp_unit[9 - 3] == pytest.approx((2 / (1 + math.exp(-3.75)) - 1) / max_tp)  # 0.966989
    assert a.tp_unit[10 - 3] == pytest.approx((2 / (1 + math.exp(-2.5)) - 1) / max_tp)  # 0.859793
    assert a.fp_unit[5 - 3] == -1.0
    assert a.fp_unit[14 - 3] == pytest.approx(2 / (1 + math.exp(5)) - 1)  # -0.986614
    assert a.windows == 1
    assert b.windows == 0
    assert (a.window[8 - 3 : 12 - 3] == 0).all()
    assert (a.window[: 8 - 3] == -1).all()


def test_sweep_by_hand() -> None:
    # Thresholds over the scored rows, standard profile (tp 1, fn 1, fp 0.11):
    #   > 0.95 : window missed                                  -> -1
    #   0.95   : A10 detects the window (0.859793)              ->  0.859793   <- best
    #   0.9    : + A5 FP (-0.11)                                ->  0.749793
    #   0.85   : + B4 FP (-0.11)                                ->  0.639793
    #   0.8    : A9 is earlier in the window: 0.966989 - 0.22   ->  0.746989
    #   0.7    : + A14 FP 0.11 * -0.986614 = -0.108528          ->  0.638461
    #   0.0    : every other row fires (FPs)                    ->  much lower
    # null = -1 (one window, never fires), perfect = +1.
    # (sigmoids to 6 places: e^-5 = 0.006738 -> max_tp 0.986614; e^-2.5 = 0.082085 ->
    # 0.848284 / 0.986614 = 0.859793; e^-3.75 = 0.023518 -> 0.954045 / 0.986614 = 0.966989)
    # normalised = 100 * (0.859793 + 1) / (1 + 1) = 92.9896
    res = sweep(corpus(), STANDARD)
    assert res.threshold == 0.95
    assert res.raw == pytest.approx(0.859793, abs=1e-6)
    assert res.null == -1.0
    assert res.perfect == 1.0
    assert res.normalized == pytest.approx(92.9896, abs=1e-3)
    assert (res.tp, res.fn, res.fp) == (1, 0, 0)
    # reward_low_FN_rate (fn 2): null -2, normalised = 100 * (0.859793 + 2) / 3 = 95.3264
    low_fn = sweep(corpus(), LOW_FN)
    assert low_fn.normalized == pytest.approx(95.3264, abs=1e-3)


def test_sweep_prefers_earlier_detection_when_fp_is_cheap() -> None:
    # With fp weight 0.01 the 0.8 threshold wins: 0.966989 - 0.02 = 0.946989 > 0.859793.
    cheap = Profile("cheap", 1.0, 1.0, 0.01)
    res = sweep(corpus(), cheap)
    assert res.threshold == 0.8
    assert res.raw == pytest.approx(0.966989 - 0.02, abs=1e-6)
    assert (res.tp, res.fp) == (1, 2)


def test_never_firing_scores_zero_and_perfect_scores_100() -> None:
    a = np.zeros(20)
    never = [file_rows("a.csv", a, [(8, 11)], 0)]
    assert sweep(never, LOW_FP).normalized == 0.0
    perfect = a.copy()
    perfect[8] = 1.0
    assert sweep([file_rows("a.csv", perfect, [(8, 11)], 0)], LOW_FP).normalized == pytest.approx(
        100.0
    )
