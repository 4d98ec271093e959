"""The all-slots fast path equals the gather/scatter path; state size per series."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_service.detector import DetectorConfig, Direction, SeriesBank, score_series


@pytest.mark.parametrize(
    ("rule", "seq", "novelty"),
    [
        ("peak", 0, False),
        ("rest", 0, False),
        ("conformal", 0, False),
        ("peak", 3, False),
        ("conformal", 0, True),
    ],
)
def test_updating_every_slot_equals_updating_a_subset(rule: str, seq: int, novelty: bool) -> None:
    cfg = DetectorConfig(onset_rule=rule, seq_order=seq, novelty=novelty)
    rng = np.random.default_rng(3)
    data = 50.0 + rng.normal(0.0, 1.0, (3, 400))
    data[1, 300:320] += 12.0
    data[2, 100] = np.nan
    full = SeriesBank(cfg, capacity=3)  # every slot, in order: the fast path
    part = SeriesBank(cfg, capacity=4)  # one idle slot: the gather/scatter path
    for bank in (full, part):
        for k in range(3):
            bank.slot(k, Direction.BOTH, None)
    part.slot("idle", Direction.UP, None)
    slots = np.arange(3)
    for t in range(400):
        a = full.update(slots, data[:, t])
        b = part.update(slots, data[:, t])
        assert np.array_equal(a.onset, b.onset)
        assert np.array_equal(a.severity, b.severity)
    for k in range(3):
        assert full.snapshot(k) == pytest.approx(part.snapshot(k), nan_ok=True)


def test_state_bytes_per_series_is_bounded() -> None:
    # 1091 bytes per series under the default (conformal: its 32-entry float32 ring buffer is
    # 128 of them; the consensus tier: 24 scalars and a 64-bin float32 histogram, 448):
    # about 10.4 MiB for 10,000 series; 963 under peak and rest
    assert SeriesBank(DetectorConfig()).bytes_per_series() < 1104
    assert SeriesBank(DetectorConfig(onset_rule="peak")).bytes_per_series() < 976
    assert SeriesBank(DetectorConfig(onset_rule="rest")).bytes_per_series() < 976
    without = SeriesBank(DetectorConfig(consensus=False)).bytes_per_series()
    assert SeriesBank(DetectorConfig()).bytes_per_series() - without == 64 * 4
    # the optional sequence rarity adds a 125-code table (5 levels, order 3)
    assert SeriesBank(DetectorConfig(seq_order=3)).bytes_per_series() < 2104


def test_sequence_rarity_finds_a_new_pattern_of_known_values() -> None:
    # a square wave of period 4 (levels 0 and 6 spreads); then the same values in a new
    # order (period 8): no value is new, the sequence is
    rng = np.random.default_rng(5)
    x = 100.0 + rng.normal(0.0, 0.2, 3000) + np.where((np.arange(3000) // 2) % 2 == 1, 1.0, 0.0)
    x[2500:] = 100.0 + rng.normal(0.0, 0.2, 500) + np.where((np.arange(500) // 4) % 2, 1.0, 0.0)
    on = score_series(x, DetectorConfig(seq_order=3)).likelihood
    off = score_series(x, DetectorConfig()).likelihood
    assert on[2500:2520].max() > off[2500:2520].max()


def test_a_slot_twice_in_one_update_is_refused() -> None:
    bank = SeriesBank(DetectorConfig(), capacity=4)
    for k in range(3):
        bank.slot(k, Direction.BOTH, None)
    with pytest.raises(ValueError, match="only once"):
        bank.update(np.array([0, 2, 0]), np.array([1.0, 2.0, 3.0]))
    v = bank.update(np.array([2, 0]), np.array([1.0, 2.0]))  # any order, each once
    assert v.missing.size == 2
