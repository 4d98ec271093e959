"""process_cpu_wait_seconds_total: parsing schedstat, a total that survives threads ending."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.common.runqueue import (
    RunQueueWaitCollector,
    WaitTotal,
    parse_schedstat,
    read_threads,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("157123905 75717730 381\n", 75717730), ("0 0 1", 0), ("", None), ("12", None),
     ("1 x 3", None), ("1 -5 3", None)],
)  # fmt: skip
def test_parse_schedstat_reads_the_run_queue_delay_or_nothing(
    text: str, expected: int | None
) -> None:
    assert parse_schedstat(text) == expected


def test_the_total_keeps_what_ended_threads_waited_and_never_goes_back() -> None:
    total = WaitTotal()
    assert total.observe({"1": 2_000_000_000, "7": 1_000_000_000}) == pytest.approx(3.0)
    assert total.observe({"1": 2_500_000_000}) == pytest.approx(3.5)  # thread 7 ended
    # thread 7's id reused by a new thread that has waited little so far
    assert total.observe({"1": 2_500_000_000, "7": 100_000_000}) == pytest.approx(3.6)
    # thread 1 reused: it reads lower than before; its predecessor's 2.5 s stay counted
    assert total.observe({"1": 10_000_000, "7": 100_000_000}) == pytest.approx(3.61)


def test_no_readable_thread_exports_nothing(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    registry.register(RunQueueWaitCollector(lambda: read_threads(tmp_path)))
    assert b"process_cpu_wait_seconds" not in generate_latest(registry)


def test_unreadable_or_garbled_threads_are_skipped(tmp_path: Path) -> None:
    for tid, text in (("10", "5 3000000000 9\n"), ("11", "garbled"), ("12", "1 1000000000 2")):
        (tmp_path / tid).mkdir()
        (tmp_path / tid / "schedstat").write_text(text)
    (tmp_path / "13").mkdir()  # no schedstat file at all
    assert read_threads(tmp_path) == {"10": 3_000_000_000, "12": 1_000_000_000}
    registry = CollectorRegistry()
    registry.register(RunQueueWaitCollector(lambda: read_threads(tmp_path)))
    assert "process_cpu_wait_seconds_total 4.0" in generate_latest(registry).decode()
