"""NAB corpus files: read the data CSVs, windows and profiles, write the result CSVs."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anomaly_service.bench.nab_scoring import (
    PROFILES,
    FileRows,
    Profile,
    file_rows,
    profiles_from_json,
    window_bounds,
)


class CorpusError(ValueError):
    """The corpus, windows or profiles file cannot be used (message says which and why)."""


@dataclass
class DataFile:
    name: str  # "<category>/<file>.csv", the key used by windows.json
    timestamps: np.ndarray  # datetime64[us]
    raw_timestamps: list[str]
    values: np.ndarray

    def seconds(self) -> np.ndarray:
        """The timestamps as seconds since the epoch (the detector's `times`)."""
        return np.asarray(self.timestamps.astype("datetime64[us]").astype(np.int64) / 1e6)


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
