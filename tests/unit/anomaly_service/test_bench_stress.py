"""The synthetic stress corpus, the holdout transfer and the onset rule choice of `bench nab`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_bench_cli import write_corpus as small_corpus

from anomaly_service.bench import nab, stress
from anomaly_service.bench.__main__ import main
from anomaly_service.bench.nab_scoring import probation_rows, window_bounds


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stress")
    assert stress.write_corpus(out, seed=3) == sum(n for _, n in stress.KINDS.values())
    return out


def test_stress_corpus_is_a_valid_nab_corpus_with_windows_in_every_file(corpus: Path) -> None:
    files = nab.load_corpus(corpus / "data")
    windows = nab.load_windows(corpus / "windows.json", files)
    assert {nab.category(f.name) for f in files} == set(stress.KINDS)
    for f in files:
        assert np.isfinite(f.values).all()
        bounds = window_bounds(f.timestamps, windows[f.name])
        assert len(bounds) >= 2
        # NAB's convention: the windows cover about 10 % of the file, after the probation.
        covered = sum(end - start + 1 for start, end in bounds)
        assert 0.08 * f.values.size <= covered <= 0.11 * f.values.size
        assert min(start for start, _ in bounds) > probation_rows(f.values.size)


def test_stress_corpus_is_seeded(corpus: Path, tmp_path: Path) -> None:
    stress.write_corpus(tmp_path / "again", seed=3)
    stress.write_corpus(tmp_path / "other", seed=4)
    name = "data/stressTraffic/traffic_0.csv"
    same = (tmp_path / "again" / name).read_text()
    assert same == (corpus / name).read_text()
    assert (tmp_path / "other" / name).read_text() != same


def test_tweets_have_a_huge_burst_in_the_unscored_probation() -> None:
    x, onsets = stress.tweets(np.random.default_rng(0))
    probation = probation_rows(x.size)
    assert x[:probation].max() > 3 * max(x[a : a + 60].max() for a in onsets) / 2
    assert min(onsets) > probation


def test_holdout_is_scored_at_the_dev_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, wfile = small_corpus(tmp_path)
    args = ["nab", "--data", str(data), "--windows", str(wfile), "--results-dir", str(tmp_path)]
    # The corpus as its own holdout: the dev threshold is its best one, so both figures are
    # the in-sample 93.4 (see test_bench_cli).
    assert main([*args, "--holdout-data", str(data), "--holdout-windows", str(wfile)]) == 0
    line = next(
        x
        for x in capsys.readouterr().out.splitlines()
        if x.startswith("standard  ") and "at threshold" in x
    )
    assert line.count("93.4") == 2
    assert "TP 1 FN 0 FP 0" in line


def test_holdout_needs_windows_and_a_readable_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, wfile = small_corpus(tmp_path)
    args = ["nab", "--data", str(data), "--windows", str(wfile), "--results-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--holdout-data", str(data)])
    assert exc.value.code == 2
    assert "--holdout-windows" in capsys.readouterr().err
    rc = main([*args, "--holdout-data", str(tmp_path / "nope"), "--holdout-windows", str(wfile)])
    assert rc == 2
    assert "holdout" in capsys.readouterr().err


def test_nab_scores_the_rest_rule_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, wfile = small_corpus(tmp_path)
    args = ["nab", "--data", str(data), "--windows", str(wfile), "--results-dir", str(tmp_path)]
    assert main([*args, "--onset-rule", "rest"]) == 0
    row = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("standard "))
    # The 40-sd burst is found in its window, without a false positive (rule rest reports
    # the calibrated tail; the sweep's best threshold finds only the burst).
    assert row.split()[-3:] == ["1", "0", "0"]
    with pytest.raises(SystemExit):
        main([*args, "--onset-rule", "sometimes"])


def test_nab_scores_the_conformal_rule_and_cross_validates_it_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, wfile = small_corpus(tmp_path)
    args = ["nab", "--data", str(data), "--windows", str(wfile), "--results-dir", str(tmp_path)]
    # one category: nothing to hold out; a clear error, not a crash
    assert main([*args, "--onset-rule", "conformal", "--cv-fixed"]) == 2
    assert "at least 2 categories" in capsys.readouterr().err
    # a second category (a copy of the spiky file) makes two folds
    (data / "other").mkdir()
    shutil.copy(data / "cat" / "spiky.csv", data / "other" / "spiky.csv")
    windows = json.loads(wfile.read_text())
    windows["other/spiky.csv"] = windows["cat/spiky.csv"]
    wfile.write_text(json.dumps(windows))
    assert main([*args, "--onset-rule", "conformal", "--cv-fixed"]) == 0
    out = capsys.readouterr().out.splitlines()
    row = next(x for x in out if x.startswith("standard "))
    assert row.split()[-3:] == ["2", "0", "0"]  # both 40-sd bursts, no false positive
    # --cv-fixed offers no other setting: every fold keeps the rule given
    folds = [x for x in out if x.startswith(("cat ", "other "))]
    assert len(folds) == 2 * 3
    assert all(x.rstrip().endswith("default") for x in folds)
    assert nab.cv_settings(nab.DetectorConfig(), fixed=True) == {"default": nab.DetectorConfig()}
    assert set(nab.cv_settings(nab.DetectorConfig())) == {"default", "peak", "rest", "seq 3"}
