"""Operator feedback (pure rules), the bank's per-slot widening, and re-judging restored
anomalies in the lifecycle."""

from __future__ import annotations

import numpy as np
import pytest
from anomaly_fakes import spec

from anomaly_service.detector import DetectorConfig, Direction, SeriesBank
from anomaly_service.feedback import (
    Limits,
    Sensitivity,
    apply_label,
    precision,
    reset,
    series_id,
)
from anomaly_service.lifecycle import Tracker
from anomaly_service.records import Anomaly, Observation
from relia_contracts.anomalies import FeedbackRecord

LIMITS = Limits(step=1.5, max_factor=3.0, max_mute_s=3600.0)


def fresh() -> Sensitivity:
    return Sensitivity(series_id("latency", {"service": "orders"}), "orders", "latency")


def test_noise_widens_by_step_and_is_capped() -> None:
    sens = fresh()
    factors = []
    for i in range(6):
        sens = apply_label(sens, "noise", None, float(i), LIMITS)
        factors.append(sens.factor)
    assert factors[:2] == [1.5, 2.25]
    assert max(factors) == 3.0
    assert factors[-1] == 3.0  # bounded, never past max_factor
    assert sens.noise == 6
    assert sens.updated_at == 5.0


def test_confirmed_steps_back_never_below_one_and_ends_a_mute() -> None:
    sens = apply_label(fresh(), "noise", 600.0, 100.0, LIMITS)
    assert sens.factor == 1.5
    assert sens.muted(100.0)
    assert sens.muted_until == 700.0
    assert not sens.muted(700.0)  # the mute ends by itself
    sens = apply_label(sens, "confirmed", None, 200.0, LIMITS)
    assert sens.factor == 1.0
    assert sens.muted_until is None
    assert sens.confirmed == 1
    sens = apply_label(sens, "confirmed", None, 300.0, LIMITS)
    assert sens.factor == 1.0  # never more sensitive than the detector's own


def test_mute_is_bounded_and_a_later_shorter_mute_does_not_shorten_it() -> None:
    with pytest.raises(ValueError, match="mute_for_s"):
        apply_label(fresh(), "noise", 3601.0, 0.0, LIMITS)
    with pytest.raises(ValueError, match="label"):
        apply_label(fresh(), "maybe", None, 0.0, LIMITS)
    sens = apply_label(fresh(), "noise", 3000.0, 0.0, LIMITS)
    sens = apply_label(sens, "noise", 10.0, 5.0, LIMITS)
    assert sens.muted_until == 3000.0


def test_reset_restores_the_detectors_own_sensitivity_and_keeps_counts() -> None:
    sens = apply_label(fresh(), "noise", 60.0, 0.0, LIMITS)
    back = reset(sens, 10.0)
    assert back.factor == 1.0
    assert back.muted_until is None
    assert back.neutral(10.0)
    assert back.noise == 1


def record(anomaly: str, label: str, at: float, metric: str = "latency") -> FeedbackRecord:
    return FeedbackRecord.model_validate(
        {
            "id": f"f-{anomaly}-{at}",
            "at": at,
            "anomaly_id": anomaly,
            "series_id": "sid",
            "service": "orders",
            "metric": metric,
            "label": label,
            "reason": "r",
            "mute_for_s": None,
            "factor_after": 1.0,
            "muted_until": None,
        }
    )


def test_precision_counts_each_anomaly_once_by_its_latest_label() -> None:
    out = precision(
        [
            record("a1", "noise", 1.0),
            record("a1", "confirmed", 2.0),  # changed their mind: a1 is confirmed
            record("a2", "noise", 3.0),
            record("a3", "confirmed", 4.0),
            record("a4", "noise", 5.0, metric="cpu"),
        ]
    )
    latency = next(s for s in out["signals"] if s["metric"] == "latency")
    assert (latency["confirmed"], latency["noise"]) == (2, 1)
    assert latency["precision"] == pytest.approx(2 / 3)
    cpu = next(s for s in out["signals"] if s["metric"] == "cpu")
    assert cpu["precision"] == 0.0
    assert out["overall"] == {"confirmed": 2, "noise": 2, "precision": 0.5}
    assert precision([])["overall"]["precision"] is None


def test_series_id_is_stable_and_label_order_free() -> None:
    a = series_id("latency", {"service": "orders", "route": "/x"})
    assert a == series_id("latency", {"route": "/x", "service": "orders"})
    assert a != series_id("latency", {"service": "users", "route": "/x"})
    assert len(a) == 16


# ---- the detector's severity channel ---------------------------------------------------------


def judged(factor: float, last: float) -> tuple[int, float]:
    """Seed a steady series, widen it, judge one point: (level, band width)."""
    bank = SeriesBank(DetectorConfig(min_points=10))
    slot = bank.slot("s", Direction.UP, None, 1.0)
    bank.seed("s", np.full(40, 100.0))
    bank.set_widen(slot, factor)
    v = bank.update(np.array([slot]), np.array([last]))
    return int(v.level[0]), float(v.upper[0] - v.baseline[0])


def test_widening_raises_the_thresholds_and_the_band_of_that_slot_only() -> None:
    level, band = judged(1.0, 105.0)  # 5 spreads: above z_info (4)
    assert level == 1
    assert band == pytest.approx(4.0)
    level, band = judged(1.5, 105.0)  # thresholds 6 and 9 spreads now
    assert level == 0
    assert band == pytest.approx(6.0)
    level, _ = judged(1.5, 110.0)  # 10 spreads: still abnormal, the channel is not muted
    assert level == 2


def test_widen_is_per_slot_reset_on_release_and_validated() -> None:
    bank = SeriesBank(DetectorConfig(), capacity=2)
    a = bank.slot("a", Direction.UP, None)
    b = bank.slot("b", Direction.UP, None)
    bank.set_widen(a, 2.0)
    assert bank.widen(a) == 2.0
    assert bank.widen(b) == 1.0
    with pytest.raises(ValueError, match=r"finite number >= 1, got 0\.5"):
        bank.set_widen(a, 0.5)
    with pytest.raises(ValueError, match="finite number >= 1, got nan"):
        bank.set_widen(a, float("nan"))
    bank.release("a")
    assert bank.widen(bank.slot("c", Direction.UP, None)) == 1.0


# ---- restored anomalies ----------------------------------------------------------------------


def obs(is_open: bool, warming: bool = False, value: float = 1.0) -> Observation:
    return Observation(value, 0.1, 0.0, 0.2, 0.5, 2 if is_open else 0, is_open, warming)


def restored(tracker: Tracker) -> tuple[Anomaly, object]:
    state = tracker.state(spec(), {"service": "orders"})
    anomaly = Anomaly(
        "a-1",
        "fp",
        "orders",
        "latency",
        {"service": "orders"},
        "deviation",
        2,
        2,
        10.0,
        "seconds",
        "up",
        sent_severity=2,
    )
    tracker.adopt(state, anomaly)
    return anomaly, state


def test_restored_anomaly_waits_for_the_warm_detector_and_is_adopted_not_duplicated() -> None:
    tracker = Tracker(rejudge_points=3)
    anomaly, state = restored(tracker)
    assert tracker.observe(state, 20.0, obs(False, warming=True)) == []
    assert anomaly.status == "active"
    out = tracker.observe(state, 25.0, obs(False))  # one calm point: not yet
    out += tracker.observe(state, 30.0, obs(True))  # the detector opens: same incident
    assert out == []
    assert tracker.opened_total == 0
    assert list(tracker.active) == ["a-1"]
    assert not anomaly.restored


def test_restored_anomaly_closes_after_the_rejudge_points_when_the_series_is_normal() -> None:
    tracker = Tracker(rejudge_points=3)
    anomaly, state = restored(tracker)
    assert tracker.observe(state, 20.0, obs(False)) == []
    assert tracker.observe(state, 25.0, obs(False)) == []
    out = tracker.observe(state, 30.0, obs(False))
    assert [t.status for t in out] == ["resolved"]
    assert out[0].anomaly["id"] == "a-1"
    assert anomaly.status == "resolved"
    assert not tracker.active


def test_interrupt_closes_a_restored_anomaly_with_a_reason() -> None:
    tracker = Tracker()
    anomaly, _ = restored(tracker)
    tracker.active.clear()
    t = tracker.interrupt(anomaly, 50.0)
    assert t.status == "resolved"
    assert t.anomaly["interrupted"] is True
    assert "interrupted" in t.anomaly["summary"]
    assert tracker.get("a-1") is anomaly
