"""Per-slot state of the SeriesBank: the field tables, the arrays, and slot management."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from anomaly_service.detector import consensus
from anomaly_service.detector.config import DetectorConfig, Direction

_FLOAT_FIELDS = (
    "m",  # baseline level
    "mad",  # mean absolute deviation of one-step residuals around their bias
    "bias",  # running mean of the residuals: a lagging baseline (drift) shows here
    "sm",  # shadow level: learns every valid point (the "new normal" candidate)
    "smad",
    "fm",  # fast level and spread for the onset score
    "fmad",
    "short",  # short mean of the log deviation
    "lmean",  # long mean / variance of `short`
    "lvar",
    "short2",  # the same likelihood statistics for the value-rarity surprise
    "lmean2",
    "lvar2",
    "short3",  # the same for the sequence-rarity surprise (option seq_order > 0)
    "lmean3",
    "lvar3",
    "peak",  # decaying peak of the likelihood (onset rule "peak")
    "alarm",  # q of the last reported onset (onset rule "rest": the breakthrough reference)
    "gate",  # recurrence gate (onset rule "rest"): the recent alarms' q, decaying
    "trate",  # calibration (rule "rest"): share of likelihoods above tail_u, EW
    "tbeta",  # calibration: mean excess of the likelihood above tail_u (exponential tail)
    "cmax",  # rule "conformal": maximum of the likelihood in the current block
    "floor",  # impact floor/SLO (NaN = none)
    "minspread",
    *consensus.FLOAT_FIELDS,  # the consensus tier (detector/consensus.py)
)
_INT_FIELDS = (
    "n",
    "jn",
    "fc",
    "seq",  # code of the last seq_order coarse levels (sequence rarity)
    "cn",  # points learned by the calibration survival function
    "rest",  # points left in the rest period after a reported onset
    "cbc",  # rule "conformal": live points in the current block
    "cnb",  # rule "conformal": blocks stored so far (the ring buffer's write position)
    "run1",
    "run2",
    "run3",
    "normal_run",
    "below_run",
    "out_run",
    "breach_run",  # consecutive points beyond the floor while the baseline is inside it
    *consensus.INT_FIELDS,
)


class BankState:
    """Struct-of-arrays state for many series, one slot each; `SeriesBank` steps it."""

    def __init__(self, config: DetectorConfig, capacity: int = 256) -> None:
        self.config = config
        self._cap = 0
        self._keys: dict[Hashable, int] = {}
        self._free: list[int] = []
        self._pending: dict[int, np.ndarray] = {}  # queued seeds by slot
        self._all = False  # the current step updates every slot, in order
        self._f: dict[str, np.ndarray] = {}
        self._i: dict[str, np.ndarray] = {}
        self._dir = np.zeros(0, dtype=np.int8)
        self._open = np.zeros(0, dtype=bool)
        self._sev = np.zeros(0, dtype=np.int8)
        # Operator feedback: a factor >= 1 on the severity thresholds and band of each slot.
        self._widen = np.ones(0)
        # Slowly learned histogram of where values fall relative to the fast level.
        self._hist = np.zeros((0, config.rarity_bins))
        self._conformal = config.onset_rule == "conformal"
        # Rule "conformal": a ring buffer of the likelihood's last block maxima per slot.
        self._cbuf = np.zeros((0, config.conf_blocks if self._conformal else 0), np.float32)
        # Option novelty: a ring of the last fast z-scores and a codebook of new windows.
        self._novelty = config.novelty
        nw = config.nov_window if self._novelty else 0
        self._nring = np.zeros((0, nw), np.float32)
        self._nbook = np.zeros((0, config.nov_codes if self._novelty else 0, nw), np.int8)
        self._nvc = np.zeros(0, np.int32)  # windows stored so far
        # The consensus tier: a histogram of each slot's whole history.
        self._consensus = config.consensus
        self._chist = np.zeros((0, config.cons_hist_bins if self._consensus else 0), np.float32)
        self._seq_codes = 5**config.seq_order if config.seq_order > 0 else 0
        self._seq = np.zeros((0, self._seq_codes))
        self._grow(max(1, capacity))

    # ------------------------------------------------------------------ slots
    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def _grow(self, cap: int) -> None:
        old = self._cap

        def grow(a: np.ndarray, fill: float | int | bool) -> np.ndarray:
            b = np.full(cap, fill, dtype=a.dtype if a.size else type(fill))
            b[:old] = a
            return b

        for name in _FLOAT_FIELDS:
            self._f[name] = grow(self._f.get(name, np.zeros(0)), 0.0)
        for name in _INT_FIELDS:
            self._i[name] = grow(self._i.get(name, np.zeros(0, dtype=np.int64)), 0)
        self._i = {k: v.astype(np.int64) for k, v in self._i.items()}
        self._dir = grow(self._dir, 0).astype(np.int8)
        self._open = grow(self._open, False).astype(bool)
        self._sev = grow(self._sev, 0).astype(np.int8)
        self._widen = grow(self._widen, 1.0).astype(float)
        hist = np.full((cap, self.config.rarity_bins), 1.0 / self.config.rarity_bins)
        hist[:old] = self._hist
        self._hist = hist
        seq = np.full((cap, self._seq_codes), 1.0 / max(self._seq_codes, 1))
        seq[:old] = self._seq
        self._seq = seq
        cbuf = np.full((cap, self._cbuf.shape[1]), -np.inf, dtype=np.float32)
        cbuf[:old] = self._cbuf
        self._cbuf = cbuf
        chist = np.zeros((cap, self._chist.shape[1]), np.float32)
        chist[:old] = self._chist
        self._chist = chist
        nring = np.zeros((cap, self._nring.shape[1]), np.float32)
        nring[:old] = self._nring
        self._nring = nring
        nbook = np.zeros((cap, *self._nbook.shape[1:]), np.int8)
        nbook[:old] = self._nbook
        self._nbook = nbook
        if self._novelty:
            self._nvc = np.concatenate([self._nvc, np.zeros(cap - old, np.int32)])
        self._free.extend(range(cap - 1, old - 1, -1))
        self._cap = cap

    def slot(
        self,
        key: Hashable,
        direction: Direction,
        floor: float | None,
        min_spread: float | None = None,
    ) -> int:
        """Slot of `key`, created fresh if new; direction/floor are updated if it exists."""
        idx = self._keys.get(key)
        if idx is None:
            if not self._free:
                self._grow(self._cap * 2)
            idx = self._free.pop()
            self._keys[key] = idx
            self._reset(idx)
        self._dir[idx] = int(Direction(direction))
        self._f["floor"][idx] = np.nan if floor is None else float(floor)
        spread = self.config.min_spread_abs if min_spread is None else float(min_spread)
        if not spread > 0 or not np.isfinite(spread):
            raise ValueError(f"min_spread must be a positive number, got {min_spread!r}")
        self._f["minspread"][idx] = spread
        return idx

    def _reset(self, idx: int) -> None:
        for arr in self._f.values():
            arr[idx] = 0.0
        for arr in self._i.values():
            arr[idx] = 0
        self._open[idx] = False
        self._sev[idx] = 0
        self._widen[idx] = 1.0
        self._hist[idx] = 1.0 / self.config.rarity_bins
        self._seq[idx] = 1.0 / max(self._seq_codes, 1)
        self._cbuf[idx] = -np.inf
        self._chist[idx] = 0.0
        self._nring[idx] = 0.0
        self._nbook[idx] = 0
        if self._novelty:
            self._nvc[idx] = 0

    def release(self, key: Hashable) -> None:
        """Forget a series; its slot is reused by the next new key."""
        idx = self._keys.pop(key, None)
        if idx is not None:
            self._pending.pop(idx, None)
            self._reset(idx)
            self._free.append(idx)

    def bytes_per_series(self) -> int:
        """Bytes of streaming state kept per series slot (every per-slot array); the
        working arrays of one update are extra and proportional to the series updated."""
        per = sum(a.itemsize for a in self._f.values()) + sum(a.itemsize for a in self._i.values())
        per += self._dir.itemsize + self._open.itemsize + self._sev.itemsize + self._widen.itemsize
        per += self._hist.shape[1] * self._hist.itemsize
        per += self._seq.shape[1] * self._seq.itemsize
        per += self._cbuf.shape[1] * self._cbuf.itemsize
        per += self._chist.shape[1] * self._chist.itemsize
        if self._novelty:
            per += self._nring[:1].nbytes + self._nbook[:1].nbytes + self._nvc.itemsize
        return int(per)

    def set_widen(self, slot: int, factor: float) -> None:
        """Severity channel only: z_info, z_warning and the band of `slot` times `factor`
        (>= 1; operator noise feedback). Learning and the onset channel are untouched."""
        if not (np.isfinite(factor) and factor >= 1.0):
            raise ValueError(f"widen factor must be a finite number >= 1, got {factor!r}")
        self._widen[slot] = float(factor)

    def widen(self, slot: int) -> float:
        return float(self._widen[slot])

    def key_slot(self, key: Hashable) -> int | None:
        return self._keys.get(key)
