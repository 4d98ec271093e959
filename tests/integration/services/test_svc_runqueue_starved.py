"""The run-queue wait on the real kernel: a thread that shares its CPU with a busy process
waits for it; alone it hardly does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from services.common.runqueue import WaitTotal, read_threads

TASKS = Path("/proc/self/task")


def spin_and_measure(seconds: float) -> tuple[float, float]:
    """(waited, ran) seconds of this process while it spins for `seconds` of wall time."""
    total = WaitTotal()
    before = total.observe(read_threads(TASKS))
    cpu_before = time.process_time()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return total.observe(read_threads(TASKS)) - before, time.process_time() - cpu_before


def test_a_thread_sharing_its_cpu_with_a_busy_process_waits_for_it() -> None:
    cpu = sorted(os.sched_getaffinity(0))[-1]
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    hog = subprocess.Popen(
        ["taskset", "-c", str(cpu), sys.executable, "-c", "while True: pass"],
    )
    try:
        time.sleep(0.2)  # the hog is running
        waited, ran = spin_and_measure(1.0)
    finally:
        hog.kill()
        hog.wait(timeout=10)
        os.sched_setaffinity(0, old)
    # CFS shares one CPU between two runnable tasks: each waits about as long as it runs.
    assert waited >= 0.25, (waited, ran)
    assert waited >= 0.5 * ran, (waited, ran)
