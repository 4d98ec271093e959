"""Option `novelty`: a sequence-novelty confirmation of the calibrated onset, computed only for
the points the cheap channel would report, against a bounded codebook of past windows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from anomaly_service.bench.__main__ import main
from anomaly_service.detector import DetectorConfig, Direction, SeriesBank, score_many
from anomaly_service.detector import novelty as nov

CONF = DetectorConfig(onset_rule="conformal", consensus=False)  # the rule alone
NOV = replace(CONF, novelty=True)


def noise(n: int, seed: int = 11) -> np.ndarray:
    return 100.0 + np.random.default_rng(seed).normal(0.0, 1.0, n)


def q_of(likelihood: np.ndarray) -> np.ndarray:
    return CONF.likelihood_scale * likelihood / (1.0 - likelihood)


BURST = np.array([9.0, 14.0, 9.0, 5.0])  # a peaked burst, in sd of the noise
STEP = np.array([7.0, 14.0, 14.0, 14.0])  # a new shape reaching the same height


def bursts(step_at: int | None = None) -> np.ndarray:
    # the same burst every 600 points: beyond the conformal buffer's 512-point horizon, so
    # its rank alone keeps calling each repeat news
    x = noise(6000)
    for at in range(900, 5400, 600):
        x[at : at + 4] += BURST
    if step_at is not None:
        x[step_at : step_at + 4] += STEP
    return x


def alarms(onset: np.ndarray, at: int) -> bool:
    """An alarm (q >= alarm_q) among the 4 points of the burst starting at `at`."""
    return bool(onset[at : at + 4].max() >= CONF.alarm_q / (CONF.alarm_q + CONF.likelihood_scale))


def test_a_recurring_burst_shape_stops_being_reported_and_a_new_shape_is() -> None:
    # A strong setting, to see the mechanism (the default's penalty of 1 only trims a
    # borderline q; these bursts reach q 8-17): a repeat within 1 log unit at every point of
    # the window loses up to 20.
    cfg = replace(NOV, nov_match=1.0, nov_penalty=20.0)
    x = bursts(step_at=5700)
    plain = score_many([x], CONF)[0]
    confirmed = score_many([x], cfg)[0]
    repeats = range(1500, 5400, 600)  # the first burst (900) stored the shape
    assert all(alarms(plain.onset, a) for a in [900, *repeats])
    assert alarms(confirmed.onset, 900)
    assert sum(alarms(confirmed.onset, a) for a in repeats) <= 2  # of 7 (noise in the window)
    # the new shape, at the same height, is still news
    assert alarms(plain.onset, 5700)
    assert alarms(confirmed.onset, 5700)


def test_the_codebook_is_bounded_and_a_recurring_shape_is_stored_once() -> None:
    cfg = replace(NOV, nov_window=3, nov_codes=4)
    ring = np.zeros((1, 3), np.float32)
    book = np.zeros((1, 4, 3), np.int8)
    nvc = np.zeros(1, np.int32)
    rows = np.zeros(1, np.intp)
    live = np.ones(1, dtype=bool)
    q = np.array([2.5])

    def judge(window: list[float], fc: int) -> float:
        for k, v in enumerate(window):
            nov.push_point(ring, rows, np.array([fc - 3 + k]), np.array([v]), live)
        return float(nov.confirm(cfg, ring, book, nvc, rows, np.array([fc]), q, live)[0])

    assert judge([0.0, 0.0, 20.0], 3) == pytest.approx(2.5 + cfg.nov_boost)  # new: stored
    assert nvc[0] == 1
    assert judge([0.0, 0.0, 20.0], 6) == pytest.approx(2.5 - cfg.nov_penalty)  # a repeat
    assert nvc[0] == 1  # a matched window is not stored again
    for k in range(10):  # ten new shapes: the codebook keeps the last 4
        judge([0.0, 5.0 * 2.0**k, 0.0], 9 + 3 * k)
    assert nvc[0] == 11
    assert book.shape == (1, 4, 3)
    # the first shape was overwritten: it is new again
    assert judge([0.0, 0.0, 20.0], 60) == pytest.approx(2.5 + cfg.nov_boost)


def test_codes_are_scale_free_log_excess_over_the_dead_zone() -> None:
    c = nov.codes(np.array([0.5, -2.9, 3.0 + np.e - 1.0, -1e9]), dead=3.0)
    assert c.dtype == np.int8
    assert c.tolist() == [0, 0, 16, -127]  # one log unit = 16 steps; clipped at 127


def test_nothing_is_computed_when_the_cheap_channel_is_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Clean noise on 8 series: the ring is written at every point, but windows are coded and
    # compared only when a point reaches nov_q, and a series that never does has an empty
    # codebook. (No penalty or boost here, so the verdict's q is the q that was tested.)
    calls = {"codes": 0}
    real = nov.codes

    def counting(window: np.ndarray, dead: float) -> np.ndarray:
        calls["codes"] += 1
        return real(window, dead)

    monkeypatch.setattr(nov, "codes", counting)
    cfg = replace(NOV, nov_q=2.5, nov_penalty=0.0, nov_boost=0.0)
    bank = SeriesBank(cfg, capacity=8)
    slots = np.array([bank.slot(k, Direction.BOTH, None) for k in range(8)])
    data = 100.0 + np.random.default_rng(4).normal(0.0, 1.0, (400, 8))
    reached = np.zeros(8, dtype=bool)
    quiet = 0
    for t in range(400):
        before = calls["codes"]
        q = q_of(bank.update(slots, data[t]).likelihood)
        reached |= q >= cfg.nov_q
        if q.max() < cfg.nov_q:
            quiet += 1
            assert calls["codes"] == before
        else:
            assert calls["codes"] == before + 1  # one vectorised call for all candidates
    assert quiet > 350
    assert reached.any()
    assert not reached.all()
    stored = np.array([bank.snapshot(k)["novelty_windows"] for k in range(8)])
    assert (stored[~reached] == 0).all()
    assert (stored[reached] >= 1).all()


def test_state_per_series_is_stated_and_bounded() -> None:
    # ring of 6 float32 fast z (24 bytes) + codebook of 16 windows of 6 int8 (96) + its
    # count (4): 124 bytes per series, 1.2 MiB for 10,000; nothing when the option is off
    base = SeriesBank(CONF).bytes_per_series()
    assert SeriesBank(NOV).bytes_per_series() - base == 6 * 4 + 16 * 6 + 4
    assert SeriesBank(replace(CONF, nov_window=8)).bytes_per_series() == base


def test_novelty_changes_nothing_the_service_alerts_on() -> None:
    x = bursts(step_at=5700)
    x[700] = np.nan
    x[3000:] -= 20.0
    a, b = score_many([x], CONF) + score_many([x], NOV)
    for name in ("severity", "level", "open", "score", "baseline", "upper", "warming"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.onset, b.onset)


def test_bad_settings_are_clear_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="novelty needs a calibrated onset rule"):
        DetectorConfig(onset_rule="peak", novelty=True)
    with pytest.raises(ValueError, match="nov_q <= alarm_q"):
        replace(NOV, nov_q=4.0)
    with pytest.raises(ValueError, match="nov_window"):
        replace(NOV, nov_window=0)
    with pytest.raises(SystemExit):
        main(["throughput", "--series", "5", "--cycles", "1", "--rule", "peak", "--novelty"])
    assert "--novelty needs a calibrated onset rule" in capsys.readouterr().err
    assert (
        main(["throughput", "--series", "20", "--cycles", "2", "--rule", "conformal", "--novelty"])
        == 0
    )
    assert "onset rule conformal, novelty" in capsys.readouterr().out
