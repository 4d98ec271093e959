"""CPU starvation as a metric: seconds the process's threads were ready to run but waited for a
CPU (the kernel's run-queue delay, /proc/self/task/*/schedstat, field 2).

A service starved by its host burns little CPU and waits a lot; a service slowed by its own
fault (a lock, a slow call) waits on other things. `process_cpu_wait_seconds_total` tells the
two apart where PSI (`cpu.pressure`) is absent, as on the kernels seen here (docs/root-cause.md,
"Load").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

NAME = "process_cpu_wait_seconds"


def parse_schedstat(text: str) -> int | None:
    """Run-queue delay in nanoseconds from one schedstat line (`run_ns wait_ns slices`)."""
    fields = text.split()
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    return int(fields[1])


class WaitTotal:
    """A monotonic total over threads that come and go: a thread's last reading is kept once it
    is gone (a short-lived thread's wait since the previous reading is lost, not subtracted)."""

    def __init__(self) -> None:
        self._live: dict[str, int] = {}
        self._gone_ns = 0

    def observe(self, per_thread_ns: Mapping[str, int]) -> float:
        """Seconds waited by every thread seen so far, given the live threads' readings."""
        for tid, last in self._live.items():
            if tid not in per_thread_ns:
                self._gone_ns += last
        # A reused thread id reads lower than its predecessor: the predecessor is gone.
        for tid, ns in per_thread_ns.items():
            if ns < self._live.get(tid, 0):
                self._gone_ns += self._live[tid]
        self._live = dict(per_thread_ns)
        return (self._gone_ns + sum(self._live.values())) / 1e9


def read_threads(task_dir: Path) -> dict[str, int]:
    """tid -> run-queue delay (ns) of every thread readable under `task_dir`."""
    out: dict[str, int] = {}
    for path in task_dir.glob("*/schedstat"):
        try:
            ns = parse_schedstat(path.read_text())
        except OSError:  # the thread ended between the listing and the read
            continue
        if ns is not None:
            out[path.parent.name] = ns
    return out


class RunQueueWaitCollector(Collector):
    """Exports process_cpu_wait_seconds_total; nothing where schedstat cannot be read."""

    def __init__(
        self, read: Callable[[], Mapping[str, int]] = lambda: read_threads(Path("/proc/self/task"))
    ) -> None:
        self._read = read
        self._total = WaitTotal()

    def collect(self) -> Iterable[CounterMetricFamily]:
        threads = self._read()
        if not threads:
            return []
        family = CounterMetricFamily(
            NAME,
            "Seconds this process's threads were ready to run but waited for a CPU "
            "(run-queue delay, /proc/self/task/*/schedstat).",
        )
        family.add_metric([], self._total.observe(threads))
        return [family]
