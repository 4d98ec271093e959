"""Leave-one-category-out cross-validation of the NAB benchmark's setting and threshold."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from anomaly_service.bench.nab_corpus import CorpusError, DataFile, category, corpus_rows
from anomaly_service.bench.nab_scoring import Profile, ProfileResult, score_at, sweep
from anomaly_service.detector import DetectorConfig


@dataclass(frozen=True)
class Fold:
    """One leave-one-category-out fold of one profile."""

    held_out: str
    files: int
    windows: int
    in_sample: ProfileResult  # held-out files at the threshold chosen on the whole corpus
    own_best: ProfileResult  # held-out files at their own best threshold
    out_of_sample: ProfileResult  # held-out files at the threshold chosen on the others
    setting: str  # the setting chosen on the other categories


@dataclass(frozen=True)
class CrossValidation:
    profile: str
    folds: list[Fold]
    in_sample: ProfileResult  # the whole corpus, threshold chosen on it (as `bench nab`)
    pooled_out_of_sample: float  # every fold's held-out raw score, normalised on the corpus

    def mean(self, which: str) -> float:
        """Mean normalised score over folds that have windows."""
        vals = [getattr(f, which).normalized for f in self.folds if f.windows]
        return float(np.mean(vals)) if vals else 0.0


def leave_one_category_out(
    files: list[DataFile],
    windows: dict[str, list[tuple[np.datetime64, np.datetime64]]],
    score_sets: dict[str, list[np.ndarray]],
    profile: Profile,
    default: str,
) -> CrossValidation:
    """Leave-one-category-out: on all categories but one choose the setting (one of
    `score_sets`, each the anomaly scores of every file under one detector setting) and the
    threshold that maximise the NAB score, then score the held-out category with them.

    A category without windows (artificialNoAnomaly) is a fold too: as in NAB its false
    positives count, in the pooled out-of-sample figure (its own normalised score is 0).
    """
    cats = sorted({category(f.name) for f in files})
    if len(cats) < 2:
        raise CorpusError(
            f"leave-one-category-out needs at least 2 categories (<category>/<file>.csv), "
            f"found {len(cats)}"
        )
    rows = {name: corpus_rows(files, windows, sc) for name, sc in score_sets.items()}
    whole = sweep(rows[default], profile)
    folds = []
    raw_total = 0.0
    for cat in cats:
        held = [k for k, f in enumerate(files) if category(f.name) == cat]
        train = [k for k, f in enumerate(files) if category(f.name) != cat]
        best: tuple[float, str, float] | None = None
        for name, r in rows.items():
            res = sweep([r[k] for k in train], profile)
            if best is None or res.raw > best[0]:
                # The sweep reports the lowest firing score; any threshold down to the next
                # lower score of the training rows scores the same there: take the middle.
                below = np.concatenate([r[k].scores for k in train])
                below = below[below < res.threshold]
                thr = 0.5 * (res.threshold + below.max()) if below.size else res.threshold
                best = (res.raw, name, thr)
        assert best is not None
        _, setting, thr = best
        out = score_at([rows[setting][k] for k in held], profile, thr)
        raw_total += out.raw
        folds.append(
            Fold(
                cat,
                len(held),
                out.tp + out.fn,
                score_at([rows[default][k] for k in held], profile, whole.threshold),
                sweep([rows[default][k] for k in held], profile),
                out,
                setting,
            )
        )
    span = whole.perfect - whole.null
    pooled = 100.0 * (raw_total - whole.null) / span if span else 0.0
    return CrossValidation(profile.name, folds, whole, pooled)


def cv_settings(config: DetectorConfig, fixed: bool = False) -> dict[str, DetectorConfig]:
    """The settings cross-validation may choose from: the default first, then the other
    onset rules and the sequence-rarity channel on or off (whichever the default is not).
    `fixed`: the given config only (only the threshold is chosen out-of-sample)."""
    if fixed:
        return {"default": config}
    seq = replace(config, seq_order=0 if config.seq_order else 3)
    others = [r for r in ("peak", "rest", "conformal") if r != config.onset_rule]
    out = {"default": config}
    out.update({r: replace(config, onset_rule=r) for r in others})
    out["seq off" if config.seq_order else "seq 3"] = seq
    return out
