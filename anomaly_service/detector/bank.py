"""SeriesBank: one vectorised step of many series (baselines, onset score, severity)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from anomaly_service.detector import consensus, novelty
from anomaly_service.detector import onset as rules
from anomaly_service.detector.config import DetectorConfig, Direction
from anomaly_service.detector.likelihood import channel, seq_rarity, value_rarity
from anomaly_service.detector.severity import hysteresis, raw_level
from anomaly_service.detector.state import BankState

# Mean absolute deviation -> standard deviation for a normal distribution (sqrt(pi/2)).
MAD_TO_SIGMA = 1.2533141373155003
# Points learned with the Huber clip relaxed, so the very first spreads can grow.
_BOOTSTRAP_POINTS = 5
# Plain ints: enum attribute access is slow in the per-update hot path.
_UP, _DOWN = int(Direction.UP), int(Direction.DOWN)


@dataclass
class Verdicts:
    """Per-point verdicts, arrays aligned with the slots (or points) they describe."""

    baseline: np.ndarray  # the level the point was judged against (it is not part of it)
    lower: np.ndarray  # baseline -/+ z_info spreads: the normal band
    upper: np.ndarray
    score: np.ndarray  # deviation in the bad direction mapped to [0, 1); 0.5 = z_warning
    onset: np.ndarray  # anomaly likelihood of the recent deviation, [0, 1): high at onsets
    likelihood: np.ndarray  # anomaly likelihood before the onset peak rule, [0, 1)
    level: np.ndarray  # raw Severity of this point, before hysteresis (int8)
    severity: np.ndarray  # Severity after hysteresis and the impact rule (int8)
    open: np.ndarray  # an anomaly is open on the series
    warming: np.ndarray  # estimates not yet meaningful: verdicts held at normal
    zscore: np.ndarray  # signed deviation in robust standard deviations (0 if missing)
    missing: np.ndarray  # the value was NaN/Inf (never learned)


class SeriesBank(BankState):
    """Struct-of-arrays state for many series; `update` is one numpy pass over all slots."""

    def __init__(self, config: DetectorConfig, capacity: int = 256) -> None:
        super().__init__(config, capacity)
        self._rest_rule = config.onset_rule == "rest"
        self._peak_decay = 0.5 ** (1.0 / config.onset_memory)
        self._gate_decay = 0.5 ** (1.0 / config.gate_memory)

    # ----------------------------------------------------------------- update
    def update(
        self, slots: np.ndarray, values: np.ndarray, times: np.ndarray | None = None
    ) -> Verdicts:
        """Judge one new point per slot against its baseline, then learn it if normal.

        `times`: the points' timestamps in seconds (the consensus tier's expiry and day-old
        test); without them each update is cycle_s seconds after the slot's last one."""
        s = np.asarray(slots, dtype=np.intp)
        x = np.asarray(values, dtype=float)
        if s.shape != x.shape or s.ndim != 1:
            raise ValueError("slots and values must be 1-D arrays of the same length")
        t = None if times is None else np.asarray(times, dtype=float)
        if t is not None and (t.shape != s.shape or not np.isfinite(t).all()):
            raise ValueError("times must be finite and aligned with the slots")
        if s.size and (s.min() < 0 or s.max() >= self._cap):
            raise ValueError("slot index out of range")
        if s.size > 1 and np.bincount(s, minlength=self._cap).max() > 1:
            raise ValueError("a slot may appear only once per update")
        self.flush_seeds()
        return self._step(s, x, emit=True, times=t)

    def seed(self, key: Hashable, history: Sequence[float] | np.ndarray) -> None:
        """Backfill past points of one series with the same rules, producing no verdicts.

        Seeds are queued and run together, vectorised across series, before the next
        update/snapshot/seed_many (or `flush_seeds()`): seeding 1,000 series costs about as
        much as seeding one.
        """
        idx = self._keys.get(key)
        if idx is None:
            raise KeyError(f"unknown series {key!r}: call slot() first")
        h = np.asarray(history, dtype=float).ravel()
        prev = self._pending.get(idx)
        self._pending[idx] = h if prev is None else np.concatenate([prev, h])

    def flush_seeds(self) -> None:
        """Run every queued seed: histories are aligned at their end, shorter ones padded
        at the front with NaN (a missing point changes no state)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        slots = np.fromiter(pending.keys(), dtype=np.intp, count=len(pending))
        length = max(h.size for h in pending.values())
        mat = np.full((slots.size, length), np.nan)
        for row, h in enumerate(pending.values()):
            if h.size:
                mat[row, length - h.size :] = h
        for t in range(length):
            self._step(slots, mat[:, t], emit=False)

    def seed_many(self, slots: Sequence[int] | np.ndarray, histories: np.ndarray) -> None:
        """Backfill many series at once: `histories` is (len(slots), T), NaN for gaps."""
        self.flush_seeds()
        s = np.asarray(slots, dtype=np.intp)
        h = np.asarray(histories, dtype=float)
        if h.ndim != 2 or h.shape[0] != s.size:
            raise ValueError("histories must be a (len(slots), T) array")
        for t in range(h.shape[1]):
            self._step(s, h[:, t], emit=False)

    def snapshot(self, slot: int) -> dict[str, float | int | bool]:
        """The state of one slot (for evidence, debugging and tests)."""
        self.flush_seeds()
        out: dict[str, float | int | bool] = {k: float(v[slot]) for k, v in self._f.items()}
        out.update({k: int(v[slot]) for k, v in self._i.items()})
        out["open"] = bool(self._open[slot])
        out["severity"] = int(self._sev[slot])
        out["direction"] = int(self._dir[slot])
        if self._novelty:
            out["novelty_windows"] = int(self._nvc[slot])  # candidate windows stored so far
        return out

    def _onset_calibrated(
        self,
        s: np.ndarray,
        f: dict[str, np.ndarray],
        i: dict[str, np.ndarray],
        lq: np.ndarray,
        live: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rules "rest" and "conformal" (detector/onset.py): calibrate the likelihood `lq`
        into q = -log10 p, confirm it by sequence novelty (option, detector/novelty.py),
        then report it once per onset. Returns (onset, q)."""
        c = self.config
        ready = live & (i["cn"] >= c.rest_warmup)
        q = rules.tail_q(c, f, i, lq, live)
        if self._conformal:
            buf = self._cbuf if self._all else self._cbuf[s]
            q = rules.conformal_q(c, f, i, buf, lq, live)
            ready = ready & (i["cnb"] >= c.conf_min_blocks)
            rules.push_block(c, f, i, buf, lq, live)
            if not self._all:
                self._cbuf[s] = buf
        if self._novelty:
            q = novelty.confirm(c, self._nring, self._nbook, self._nvc, s, i["fc"], q, live)
        return rules.report(c, f, i, q, ready, live, self._gate_decay), q

    def _write_back(
        self, s: np.ndarray, f: dict[str, np.ndarray], i: dict[str, np.ndarray]
    ) -> None:
        """Store a step's state: the arrays themselves when every slot stepped in order
        (`_all`: they are the state), else the stepped slots' rows."""
        for state, new in ((self._f, f), (self._i, i)):
            for name, value in new.items():
                if self._all:
                    state[name] = value
                else:
                    state[name][s] = value

    def _step(
        self, s: np.ndarray, x: np.ndarray, emit: bool, times: np.ndarray | None = None
    ) -> Verdicts:
        c = self.config
        # Every slot in order (the service's and the benchmarks' usual case): work on the
        # state arrays themselves instead of gathering and scattering copies.
        self._all = bool(
            s.size == self._cap and s[0] == 0 and s[-1] == s.size - 1 and (np.diff(s) == 1).all()
        )
        sel: slice | np.ndarray = slice(None) if self._all else s
        f = {k: v[sel] for k, v in self._f.items()}
        i = {k: v[sel] for k, v in self._i.items()}
        direction = self._dir[sel]
        was_open = self._open[sel]
        prev_sev = self._sev[sel]

        valid = np.isfinite(x)
        xv = np.where(valid, x, 0.0)
        n = i["n"]
        warming = n < c.min_points
        m = f["m"]
        floor_rel = c.min_spread_rel * np.abs(m)
        spread = np.maximum(np.maximum(MAD_TO_SIGMA * f["mad"], floor_rel), f["minspread"])
        r = xv - m
        z = np.where(valid & (n > 0), r / spread, 0.0)
        # Deviation in the bad direction only.
        d = np.where(direction == _UP, z, np.where(direction == _DOWN, -z, np.abs(z)))
        d = np.maximum(d, 0.0)
        judged = valid & ~warming
        d = np.where(judged, d, 0.0)

        widen = self._widen[sel]
        level, impact, in_breach = raw_level(
            c, i, d, z, xv, m, f["floor"], direction, widen, valid, warming
        )

        # ---- learning: the first few points learn everything (there is no spread yet);
        # afterwards, warm-up included, only points inside z_learn. A fault or a load spike
        # in the first minutes after start must not become the normal it is judged against.
        boot = n < _BOOTSTRAP_POINTS
        # Nor a sustained breach of the floor, however close to the baseline it lies.
        learn = valid & (boot | (np.abs(z) < c.z_learn)) & ~in_breach
        lim = c.huber_k * spread
        rc = np.where(boot, r, np.clip(r, -lim, lim))
        a = np.maximum(c.alpha, 1.0 / (n + 1.0))
        a_s = np.maximum(c.alpha_spread, 1.0 / (n + 1.0))
        first = n == 0
        new_m = np.where(first, xv, m + a * rc)
        # Spread is measured around the residuals' own running bias so that a drift (a
        # baseline lagging by a constant) shows as deviation instead of inflating the spread.
        new_mad = np.where(first, 0.0, f["mad"] + a_s * (np.abs(rc - f["bias"]) - f["mad"]))
        a_b = np.maximum(c.alpha_bias, 1.0 / (n + 1.0))
        f["bias"] = np.where(learn & ~first, f["bias"] + a_b * (rc - f["bias"]), f["bias"])
        f["m"] = np.where(learn, new_m, m)
        f["mad"] = np.where(learn, new_mad, f["mad"])
        i["n"] = np.where(learn, n + 1, n)

        # ---- shadow estimate: every valid point, memory ~relearn_after/8 points.
        a_sh = np.maximum(8.0 / c.relearn_after, 1.0 / (i["out_run"] + 1.0))
        sr = xv - f["sm"]
        sh_first = (n == 0) | (i["out_run"] == 0)
        f["sm"] = np.where(valid, np.where(sh_first, xv, f["sm"] + a_sh * sr), f["sm"])
        f["smad"] = np.where(
            valid,
            np.where(sh_first, f["mad"], f["smad"] + a_sh * (np.abs(sr) - f["smad"])),
            f["smad"],
        )
        out_run = np.where(valid & ~learn, i["out_run"] + 1, np.where(valid, 0, i["out_run"]))
        # New normal: the deviation lasted relearn_after points, adopt the shadow estimate.
        # During warm-up the old level rests on a handful of points, so min_points suffice.
        rebase = out_run >= np.where(warming, c.min_points, c.relearn_after)
        f["m"] = np.where(rebase, f["sm"], f["m"])
        f["mad"] = np.where(rebase, np.maximum(f["mad"], f["smad"]), f["mad"])
        f["bias"] = np.where(rebase, 0.0, f["bias"])
        i["out_run"] = np.where(rebase, 0, out_run)

        # ---- onset score: its own fast, adaptive level and spread (they learn every valid
        # point, clipped), so a recurring pattern stops being surprising; then an anomaly
        # likelihood over the recent deviation, as in Numenta's HTM detector.
        fm, fmad, fc = f["fm"], f["fmad"], i["fc"]
        # Its own warm-up counts every valid point (the severity baseline may skip some).
        scored = valid & (fc >= c.min_points)
        fspread = np.maximum(
            np.maximum(MAD_TO_SIGMA * fmad, c.min_spread_rel * np.abs(fm)), f["minspread"]
        )
        fr = xv - fm
        fz = np.where(valid & (fc > 0), fr / fspread, 0.0)
        fd = np.where(direction == _UP, fz, np.where(direction == _DOWN, -fz, np.abs(fz)))
        if self._novelty:
            novelty.push_point(self._nring, s, fc, fz, valid)
        u = np.log1p(np.maximum(fd, 0.0))
        rare = value_rarity(c, self._hist, s, self._all, fz, direction, valid, scored)
        flim = c.huber_fast * fspread
        fboot = fc < _BOOTSTRAP_POINTS
        frc = np.where(fboot, fr, np.clip(fr, -flim, flim))
        af = np.maximum(c.alpha_fast, 1.0 / (fc + 1.0))
        afs = np.maximum(c.alpha_fast_spread, 1.0 / (fc + 1.0))
        f["fm"] = np.where(valid, np.where(fc == 0, xv, fm + af * frc), fm)
        f["fmad"] = np.where(valid & (fc > 0), fmad + afs * (np.abs(frc) - fmad), fmad)
        i["fc"] = np.where(valid, fc + 1, fc)
        jn = i["jn"]
        # The likelihood has its own warm-up: min_points scored points.
        live = scored & (jn >= c.likelihood_warmup)
        a_l = np.maximum(c.alpha_long, 1.0 / (jn + 1.0))
        lq = channel(c, f, "", u, scored, live, a_l)
        lq2 = channel(c, f, "2", rare, scored, live, a_l)
        if self._seq_codes:
            rare3 = seq_rarity(c, self._seq, s, self._all, i, fz, valid, scored)
            lq2 = np.maximum(lq2, channel(c, f, "3", rare3, scored, live, a_l) * c.seq_weight)
        i["jn"] = np.where(scored, jn + 1, jn)
        # The likelihood follows whichever surprise is stronger: deviation or rarity.
        lq = np.maximum(lq, lq2)
        if self._rest_rule or self._conformal:
            onset, q = self._onset_calibrated(s, f, i, lq, live)
            likelihood = q / (q + c.likelihood_scale)
        else:
            likelihood = lq / (lq + c.likelihood_scale)
            # Onset: only the part of the likelihood above the recent peak (forgotten with a
            # half-life of onset_memory points) counts, so a long anomaly scores at its start.
            peak = f["peak"] * np.where(scored, self._peak_decay, 1.0)
            onset = np.maximum(likelihood - peak, 0.0)
            # Early likelihoods rest on few points; they must not mute the first real onsets.
            f["peak"] = np.where(jn >= c.onset_warmup, np.maximum(peak, likelihood), peak)

        if self._consensus:
            # the clock starts at a slot's first valid point (seeds are padded in front)
            t = np.where(i["ccnt"] > 0, f["clock"] + c.cycle_s, 0.0) if times is None else times
            hist = self._chist if self._all else self._chist[s]
            onset = consensus.tier(c, f, i, hist, xv, t, valid, onset)
            if not self._all:
                self._chist[s] = hist

        is_open, sev = hysteresis(c, i, level, valid, impact, in_breach, was_open, prev_sev)

        self._write_back(s, f, i)
        self._open[sel] = is_open
        self._sev[sel] = sev

        if not emit:
            empty = np.zeros(0)
            return Verdicts(**dict.fromkeys(Verdicts.__dataclass_fields__, empty))
        band = c.z_info * spread * widen
        return Verdicts(
            baseline=m,
            lower=m - band,
            upper=m + band,
            score=d / (d + c.z_warning * widen),
            onset=onset,
            likelihood=likelihood,
            level=level,
            severity=sev,
            open=is_open,
            warming=warming,
            zscore=z,
            missing=~valid,
        )
