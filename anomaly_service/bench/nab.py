"""NAB benchmark: run the detector over a NAB-layout corpus, write result CSVs, score them."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from anomaly_service.bench.nab_scoring import (
    PROFILES,
    FileRows,
    Profile,
    ProfileResult,
    file_rows,
    profiles_from_json,
    score_at,
    sweep,
    window_bounds,
)
from anomaly_service.detector import DetectorConfig, Direction, SeriesResult, score_many


class CorpusError(ValueError):
    """The corpus, windows or profiles file cannot be used (message says which and why)."""


@dataclass
class DataFile:
    name: str  # "<category>/<file>.csv", the key used by windows.json
    timestamps: np.ndarray  # datetime64[us]
    raw_timestamps: list[str]
    values: np.ndarray


def _parse_time(text: str, where: str) -> np.datetime64:
    try:
        return np.datetime64(text.strip().replace("T", " ").replace(" ", "T"), "us")
    except ValueError:
        raise CorpusError(f"{where}: bad timestamp {text!r}") from None


def read_data_file(path: Path, name: str) -> DataFile:
    """One NAB CSV (`timestamp,value`); unparsable values become NaN (missing points)."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["timestamp", "value"]:
            raise CorpusError(f"{path}: expected a 'timestamp,value' header, got {header!r}")
        stamps: list[str] = []
        values: list[float] = []
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < 2:
                raise CorpusError(f"{path}:{lineno}: expected 2 columns, got {row!r}")
            stamps.append(row[0])
            try:
                values.append(float(row[1]))
            except ValueError:
                values.append(math.nan)
    # Rows are kept in file order, as NAB feeds them: a clock that steps back (a DST change
    # logged in local time) is not an error; windows are matched by timestamp in that order.
    ts = np.array([_parse_time(s, f"{path}") for s in stamps], dtype="datetime64[us]")
    return DataFile(name, ts, stamps, np.array(values, dtype=float))


def load_corpus(data_dir: Path) -> list[DataFile]:
    """Every `<category>/<file>.csv` under data_dir, sorted by name."""
    if not data_dir.is_dir():
        raise CorpusError(f"{data_dir}: not a directory")
    paths = sorted(p for p in data_dir.rglob("*.csv") if p.is_file())
    if not paths:
        raise CorpusError(f"{data_dir}: no CSV files found")
    return [read_data_file(p, p.relative_to(data_dir).as_posix()) for p in paths]


def load_windows(
    path: Path, files: list[DataFile]
) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """NAB combined_windows JSON: {"<category>/<file>.csv": [[start, end], ...]}."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read windows: {exc}") from None
    if not isinstance(raw, dict):
        raise CorpusError(f"{path}: expected a JSON object of file -> windows")
    missing = [f.name for f in files if f.name not in raw]
    if missing:
        raise CorpusError(f"{path}: no windows entry for {', '.join(missing[:5])}")
    out = {}
    for f in files:
        wins = []
        for pair in raw[f.name]:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise CorpusError(f"{path}: {f.name}: window must be [start, end], got {pair!r}")
            wins.append((_parse_time(pair[0], str(path)), _parse_time(pair[1], str(path))))
        out[f.name] = wins
    return out


def load_profiles(path: Path | None) -> list[Profile]:
    if path is None:
        return list(PROFILES)
    try:
        return profiles_from_json(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CorpusError(f"{path}: cannot read profiles: {exc}") from None


def anomaly_scores(result: SeriesResult) -> np.ndarray:
    """The NAB anomaly_score: the core's onset score (0 for missing points)."""
    return np.asarray(np.nan_to_num(result.onset, nan=0.0))


def write_results(out_dir: Path, files: list[DataFile], scores: list[np.ndarray]) -> None:
    """`OUT/<category>/<file>.csv` with `timestamp,value,anomaly_score` per row."""
    for f, sc in zip(files, scores, strict=True):
        target = out_dir / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value", "anomaly_score"])
            for stamp, value, s in zip(f.raw_timestamps, f.values, sc, strict=True):
                w.writerow([stamp, repr(float(value)), f"{float(s):.10f}"])


def score_corpus(
    files: list[DataFile],
    windows: dict[str, list[tuple[np.datetime64, np.datetime64]]],
    scores: list[np.ndarray],
    profiles: list[Profile],
) -> list[ProfileResult]:
    rows = corpus_rows(files, windows, scores)
    return [sweep(rows, p) for p in profiles]


def corpus_rows(
    files: list[DataFile],
    windows: dict[str, list[tuple[np.datetime64, np.datetime64]]],
    scores: list[np.ndarray],
) -> list[FileRows]:
    rows: list[FileRows] = []
    next_id = 0
    for f, sc in zip(files, scores, strict=True):
        bounds = window_bounds(f.timestamps, windows[f.name])
        rows.append(file_rows(f.name, sc, bounds, next_id))
        next_id += len(bounds)
    return rows


def category(name: str) -> str:
    return name.split("/", 1)[0] if "/" in name else ""


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


def run(
    data_dir: Path,
    windows_file: Path,
    results_dir: Path | None,
    profiles_file: Path | None = None,
    config: DetectorConfig | None = None,
    cv_settings: dict[str, DetectorConfig] | None = None,
) -> tuple[list[ProfileResult], int, int, list[CrossValidation]]:
    """Run the detector over the corpus, write results, score every profile.

    With `cv_settings` (name -> config; the first is the default run) also run the
    leave-one-category-out cross-validation of every profile over those settings.
    Returns (profile results, number of files, number of labelled windows, cv results).
    """
    files = load_corpus(data_dir)
    windows = load_windows(windows_file, files)
    profiles = load_profiles(profiles_file)
    results = score_many([f.values for f in files], config or DetectorConfig(), Direction.BOTH)
    scores = [anomaly_scores(r) for r in results]
    if results_dir is not None:
        write_results(results_dir, files, scores)
    n_windows = sum(len(w) for w in windows.values())
    cv: list[CrossValidation] = []
    if cv_settings:
        names = list(cv_settings)
        score_sets = {names[0]: scores}
        for name in names[1:]:
            res = score_many([f.values for f in files], cv_settings[name], Direction.BOTH)
            score_sets[name] = [anomaly_scores(r) for r in res]
        cv = [leave_one_category_out(files, windows, score_sets, p, names[0]) for p in profiles]
    return score_corpus(files, windows, scores, profiles), len(files), n_windows, cv


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
    results = score_many([f.values for f in files], config, Direction.BOTH)
    rows = corpus_rows(files, windows, [anomaly_scores(r) for r in results])
    by_name = {r.profile: r for r in dev}
    return [
        Transfer(p.name, score_at(rows, p, by_name[p.name].threshold), sweep(rows, p))
        for p in profiles
    ]


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
