"""The benchmark CLI: NAB result files and bad input, synthetic and throughput figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from anomaly_service.bench import synthetic, throughput
from anomaly_service.bench.__main__ import main
from anomaly_service.detector import DetectorConfig, score_many, score_series


def write_corpus(root: Path, rows: int = 400) -> tuple[Path, Path]:
    data = root / "data" / "cat"
    data.mkdir(parents=True)
    rng = np.random.default_rng(5)
    stamps = np.datetime64("2024-01-01T00:00") + np.arange(rows) * np.timedelta64(5, "m")
    windows = {}
    for name, spike_at in (("spiky.csv", 300), ("calm.csv", None)):
        values = 10.0 + rng.normal(0.0, 0.5, rows)
        if spike_at is not None:
            values[spike_at : spike_at + 5] += 20.0
        with (data / name).open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value"])
            for ts, v in zip(stamps, values, strict=True):
                w.writerow([str(ts).replace("T", " ") + ":00", f"{v:.4f}"])
        windows[f"cat/{name}"] = (
            []
            if spike_at is None
            else [
                [
                    f"{str(stamps[280]).replace('T', ' ')}:00.000000",
                    f"{str(stamps[320]).replace('T', ' ')}:00.000000",
                ]
            ]
        )
    wfile = root / "windows.json"
    wfile.write_text(json.dumps(windows))
    return root / "data", wfile


def test_nab_writes_results_and_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, wfile = write_corpus(tmp_path)
    out = tmp_path / "out"
    rc = main(["nab", "--data", str(data), "--windows", str(wfile), "--results-dir", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "2 files, 1 labelled windows" in printed
    lines = {line.split()[0]: line.split() for line in printed.splitlines() if line.strip()}
    # The 40-sd burst at row 300 is found at once, with no false positive. The window covers
    # rows 280..320 (width 41): y = -(320 - 300 + 1) / 41 = -0.512, sigmoid = 0.8567, scaled
    # by 1 / 0.9866 = 0.8683; normalised 100 * (0.8683 + 1) / 2 = 93.4.
    assert float(lines["standard"][1]) == pytest.approx(93.4, abs=0.05)
    for name in ("spiky.csv", "calm.csv"):
        with (out / "cat" / name).open() as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["timestamp", "value", "anomaly_score"]
        assert len(rows) == 401
        scores = np.array([float(r[2]) for r in rows[1:]])
        assert ((scores >= 0) & (scores <= 1)).all()


def test_nab_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, wfile = write_corpus(tmp_path)
    wfile.write_text(json.dumps({"cat/spiky.csv": []}))
    rc = main(
        ["nab", "--data", str(data), "--windows", str(wfile), "--results-dir", str(tmp_path / "o")]
    )
    assert rc == 2
    assert "no windows entry for cat/calm.csv" in capsys.readouterr().err
    (data / "cat" / "bad.csv").write_text("time,val\n1,2\n")
    rc = main(
        ["nab", "--data", str(data), "--windows", str(wfile), "--results-dir", str(tmp_path / "o")]
    )
    assert rc == 2
    assert "expected a 'timestamp,value' header" in capsys.readouterr().err
    rc = main(
        ["nab", "--data", str(tmp_path / "nope"), "--windows", str(wfile), "--results-dir", "x"]
    )
    assert rc == 2
    assert "not a directory" in capsys.readouterr().err


def test_score_many_equals_score_series() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(0, 1, 300)
    b = rng.normal(5, 2, 200)
    b[150:160] += 30
    many = score_many([a, b])
    for series, res in zip((a, b), many, strict=True):
        ref = score_series(series)
        assert np.allclose(res.onset, ref.onset)
        assert np.array_equal(res.open, ref.open)


def test_synthetic_small_run_reports_each_type() -> None:
    cfg = DetectorConfig()
    cases = synthetic.run_cases(cfg, series=2, length=900)
    assert [c.name for c in cases] == [c.name for c in synthetic.CASES]
    zero = next(c for c in cases if c.name.startswith("drop to zero"))
    assert zero.recall == 1.0
    assert zero.median_delay is not None
    assert zero.median_delay <= 2
    noise = synthetic.run_noise(cfg, series=2, days=0.02)
    assert [n.series_days for n in noise] == [pytest.approx(0.04)] * 3
    assert all(n.false_alerts >= 0 for n in noise)


def test_throughput_and_cli_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    r = throughput.run(series=50, cycles=3)
    assert r.series == 50
    assert r.cycles == 3
    assert r.updates_per_second > 0
    assert main(["throughput", "--series", "20", "--cycles", "2"]) == 0
    assert "series-updates/s" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["throughput", "--series", "0"])
