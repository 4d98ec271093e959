"""NAB benchmark: run the detector over a NAB-layout corpus, write result CSVs, score them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anomaly_service.bench import whole_history
from anomaly_service.bench.nab_corpus import (
    CorpusError,
    DataFile,
    category,
    corpus_rows,
    load_corpus,
    load_profiles,
    load_windows,
    write_results,
)
from anomaly_service.bench.nab_cv import CrossValidation, Fold, cv_settings, leave_one_category_out
from anomaly_service.bench.nab_scoring import Profile, ProfileResult, score_at, sweep
from anomaly_service.detector import DetectorConfig, Direction, SeriesResult, score_many
from anomaly_service.detector.consensus import ALARM_SCORE

# The corpus and cross-validation names stay importable from here (tests, bench CLI).
__all__ = [
    "CorpusError",
    "CrossValidation",
    "DataFile",
    "DetectorConfig",
    "Fold",
    "Transfer",
    "anomaly_scores",
    "category",
    "corpus_rows",
    "cv_settings",
    "leave_one_category_out",
    "load_corpus",
    "load_profiles",
    "load_windows",
    "run",
    "score_corpus",
    "transfer",
    "whole_history_reference",
    "write_results",
]


def anomaly_scores(result: SeriesResult) -> np.ndarray:
    """The NAB anomaly_score: the core's onset score (0 for missing points)."""
    return np.asarray(np.nan_to_num(result.onset, nan=0.0))


def _score(files: list[DataFile], config: DetectorConfig) -> list[SeriesResult]:
    """Every file through the core, rows in file order, with their timestamps."""
    return score_many(
        [f.values for f in files], config, Direction.BOTH, times=[f.seconds() for f in files]
    )


def score_corpus(
    files: list[DataFile],
    windows: dict[str, list[tuple[np.datetime64, np.datetime64]]],
    scores: list[np.ndarray],
    profiles: list[Profile],
) -> list[ProfileResult]:
    rows = corpus_rows(files, windows, scores)
    return [sweep(rows, p) for p in profiles]


def run(
    data_dir: Path,
    windows_file: Path,
    results_dir: Path | None,
    profiles_file: Path | None = None,
    config: DetectorConfig | None = None,
    cv_settings: dict[str, DetectorConfig] | None = None,
) -> tuple[list[ProfileResult], int, int, list[CrossValidation], list[ProfileResult]]:
    """Run the detector over the corpus, write results, score every profile.

    With `cv_settings` (name -> config; the first is the default run) also run the
    leave-one-category-out cross-validation of every profile over those settings.
    Returns (profile results, number of files, number of labelled windows, cv results,
    the consensus alarms alone per profile: the score at threshold ALARM_SCORE, chosen on
    nothing; empty without the consensus tier).
    """
    cfg = config or DetectorConfig()
    files = load_corpus(data_dir)
    windows = load_windows(windows_file, files)
    profiles = load_profiles(profiles_file)
    results = _score(files, cfg)
    scores = [anomaly_scores(r) for r in results]
    if results_dir is not None:
        write_results(results_dir, files, scores)
    n_windows = sum(len(w) for w in windows.values())
    cv: list[CrossValidation] = []
    if cv_settings:
        names = list(cv_settings)
        score_sets = {names[0]: scores}
        for name in names[1:]:
            res = _score(files, cv_settings[name])
            score_sets[name] = [anomaly_scores(r) for r in res]
        cv = [leave_one_category_out(files, windows, score_sets, p, names[0]) for p in profiles]
    alone = []
    if cfg.consensus:
        rows = corpus_rows(files, windows, scores)
        alone = [score_at(rows, p, ALARM_SCORE) for p in profiles]
    return score_corpus(files, windows, scores, profiles), len(files), n_windows, cv, alone


@dataclass(frozen=True)
class Transfer:
    """A second corpus scored at the thresholds chosen on the first (the issue's question:
    does a threshold tuned on nab-dev mean the same on data it has never seen?)."""

    profile: str
    at_dev_threshold: ProfileResult
    own_best: ProfileResult  # the same corpus at its own best threshold (in-sample)


def transfer(
    dev: list[ProfileResult],
    data_dir: Path,
    windows_file: Path,
    profiles: list[Profile],
    config: DetectorConfig,
) -> list[Transfer]:
    """Run the detector over a held-out corpus and score it, per profile, at the threshold
    `dev` chose for that profile and at its own best one."""
    files = load_corpus(data_dir)
    windows = load_windows(windows_file, files)
    results = _score(files, config)
    rows = corpus_rows(files, windows, [anomaly_scores(r) for r in results])
    by_name = {r.profile: r for r in dev}
    return [
        Transfer(p.name, score_at(rows, p, by_name[p.name].threshold), sweep(rows, p))
        for p in profiles
    ]


def whole_history_reference(
    data_dir: Path, windows_file: Path, profiles: list[Profile], config: DetectorConfig
) -> list[ProfileResult]:
    """The consensus tier's tests recomputed over each file's whole history at every row
    (bench/whole_history.py; slow: O(rows^2)), scored per profile as a binary detector."""
    files = load_corpus(data_dir)
    windows = load_windows(windows_file, files)
    scores = [whole_history.alarms(f.seconds(), f.values, config).astype(float) for f in files]
    rows = corpus_rows(files, windows, scores)
    return [score_at(rows, p, 0.5) for p in profiles]
