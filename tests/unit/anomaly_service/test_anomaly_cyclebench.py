"""The cycle benchmark CLI runs and prints its figures (no timing is asserted)."""

from __future__ import annotations

import asyncio

import pytest

from anomaly_service import cyclebench


def test_cyclebench_prints_figures(capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(cyclebench.run(series=60, metrics=6, cycles=3))
    out = capsys.readouterr().out
    assert "series tracked     60" in out
    for label in ("cycle median", "series-updates/s", "peak RSS"):
        assert label in out
