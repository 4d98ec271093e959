"""`bench nab` on a file whose clock steps back, and the leave-one-category-out report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from anomaly_service.bench import nab
from anomaly_service.bench.__main__ import main
from anomaly_service.bench.nab_scoring import window_bounds


def _stamp(t: np.datetime64) -> str:
    return str(t.astype("datetime64[s]")).replace("T", " ")


def write_file(path: Path, stamps: np.ndarray, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        for ts, v in zip(stamps, values, strict=True):
            w.writerow([_stamp(ts), f"{v:.4f}"])


def stepping_clock(rows: int = 400, back_at: int = 200) -> np.ndarray:
    """5-minute rows whose clock steps back one hour once (after row back_at - 1)."""
    offsets = np.arange(rows) * 5
    offsets[back_at:] -= 60
    return np.datetime64("2024-10-27T00:00") + offsets.astype("timedelta64[m]")


def test_window_bounds_follow_file_order_when_the_clock_steps_back() -> None:
    ts = stepping_clock()
    # rows 188..199 and 200..211 share the same hour: a window on rows 300..320 (after the
    # step) is found by timestamp, in file order
    assert window_bounds(ts, [(ts[300], ts[320])]) == [(300, 320)]
    # a window over the repeated hour spans from its first row to its last, in file order
    assert window_bounds(ts, [(ts[190], ts[195])]) == [(190, 207)]
    # sorted timestamps: exactly the rows with start <= t <= end
    sorted_ts = np.sort(ts)
    assert window_bounds(sorted_ts, [(sorted_ts[10], sorted_ts[20])]) == [(10, 20)]


def test_nab_accepts_a_clock_stepping_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ts = stepping_clock()
    rng = np.random.default_rng(3)
    values = 10.0 + rng.normal(0.0, 0.5, ts.size)
    values[300:305] += 20.0
    write_file(tmp_path / "data" / "cat" / "dst.csv", ts, values)
    wfile = tmp_path / "windows.json"
    wfile.write_text(json.dumps({"cat/dst.csv": [[_stamp(ts[280]), _stamp(ts[320])]]}))
    out = tmp_path / "out"
    # the figure below is rule peak's (the default until 2026-11-30)
    argv = [
        "nab",
        "--data",
        str(tmp_path / "data"),
        "--windows",
        str(wfile),
        "--onset-rule",
        "peak",
    ]
    assert main([*argv, "--results-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in printed.splitlines() if line.strip()}
    # found at row 300 of the window 280..320, as in the sorted-clock test: 93.4
    assert float(lines["standard"][1]) == pytest.approx(93.4, abs=0.05)
    with (out / "cat" / "dst.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert [r[0] for r in rows[1:]] == [_stamp(t) for t in ts]  # file order kept


def test_leave_one_category_out_reports_every_fold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(4)
    ts = np.datetime64("2024-01-01T00:00") + np.arange(400) * np.timedelta64(5, "m")
    windows = {}
    for cat in ("a", "b"):
        values = 10.0 + rng.normal(0.0, 0.5, ts.size)
        values[300:305] += 20.0
        write_file(tmp_path / "data" / cat / "f.csv", ts, values)
        windows[f"{cat}/f.csv"] = [[_stamp(ts[280]), _stamp(ts[320])]]
    write_file(tmp_path / "data" / "quiet" / "f.csv", ts, 10.0 + rng.normal(0.0, 0.5, ts.size))
    windows["quiet/f.csv"] = []
    wfile = tmp_path / "windows.json"
    wfile.write_text(json.dumps(windows))
    files = nab.load_corpus(tmp_path / "data")
    _, n_files, n_windows, cv, _ = nab.run(
        tmp_path / "data", wfile, None, cv_settings=nab.cv_settings(nab.DetectorConfig())
    )
    assert (n_files, n_windows) == (len(files), 2)
    standard = cv[0]
    assert [f.held_out for f in standard.folds] == ["a", "b", "quiet"]
    a, b, quiet = standard.folds
    assert a.windows == 1
    assert quiet.windows == 0
    # the burst is found in each held-out category at the threshold chosen on the others
    assert a.out_of_sample.tp == 1
    assert b.out_of_sample.tp == 1
    assert standard.pooled_out_of_sample == pytest.approx(93.4, abs=0.05)
    argv = ["nab", "--data", str(tmp_path / "data"), "--windows", str(wfile), "--cv"]
    assert main([*argv, "--results-dir", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    assert "leave-one-category-out, standard" in printed
    assert "pooled: in-sample" in printed
