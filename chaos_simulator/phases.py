"""Traffic phases: the preflight, phases run one after another with progress bars, and the
baseline-learning condition that may end a phase early. Every loop is bounded by its plan's
duration; a stop event (Ctrl-C) ends them early."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chaos_simulator.client import ApiError, PlatformClient
from chaos_simulator.loadgen import LoadPlan, run_load
from chaos_simulator.mix import Endpoint, MixGenerator
from chaos_simulator.render import Ui, live_detail
from chaos_simulator.stats import Stats
from chaos_simulator.targets import TargetUnreachable


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if the stop event fired meanwhile."""
    if seconds <= 0:
        return stop.is_set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def preflight(clients: PlatformClient, services: list[str]) -> None:
    """Every named service must answer /health, or TargetUnreachable says which one."""
    results = await asyncio.gather(*(clients.service(s).health() for s in services))
    for result in results:
        if not result["ok"]:
            reason = result.get("error") or "GET /health did not answer 200"
            raise TargetUnreachable(result["name"], result["url"], reason)


@dataclass
class Phase:
    """Traffic for `plan.duration_s`; with `until`, the phase ends earlier, once `until()` is
    true and at least `min_s` have passed (`plan.duration_s` is then the upper bound)."""

    name: str
    plan: LoadPlan
    mix: tuple[Endpoint, ...]
    until: Callable[[PlatformClient], Awaitable[bool]] | None = None
    min_s: float = 0.0
    check_every_s: float = 2.0

    def describe(self) -> str:
        if self.until is None:
            return f"{self.name} {self.plan.duration_s:g}s"
        return f"{self.name} {self.min_s:g}-{self.plan.duration_s:g}s"


@dataclass
class BaselinesLearned:
    """Phase condition: the anomaly service scores every series of `services` (each has some,
    none is warming up). An anomaly service that does not answer counts as done: there is
    nothing to wait for."""

    services: tuple[str, ...]
    state: str = "not checked"  # learned | warming up | anomaly service unreachable

    async def __call__(self, clients: PlatformClient) -> bool:
        try:
            predict = await clients.anomaly.predict()
        except (TargetUnreachable, ApiError, ValueError):
            self.state = "anomaly service unreachable"
            return True
        series = [s for s in predict.get("series", []) if s.get("service") in self.services]
        seen = {s.get("service") for s in series}
        warm = seen == set(self.services) and not any(s.get("warming_up") for s in series)
        self.state = "learned" if warm else "warming up"
        return warm

    def warning(self) -> str | None:
        if self.state != "warming up":
            return None
        return (
            f"the baselines of {', '.join(self.services)} were still warming up when the "
            "baseline phase ended: what followed may be learned as their normal"
        )


def learned_state(phases: list[Phase], ui: Ui) -> str | None:
    """How the phases' baseline-learning condition ended (None: they have none); warns when
    the phase ended with the baselines still warming up."""
    for phase in phases:
        if isinstance(phase.until, BaselinesLearned):
            if note := phase.until.warning():
                ui.warn(note)
            return phase.until.state
    return None


async def _end_when(
    phase: Phase, clients: PlatformClient, outer: asyncio.Event, phase_stop: asyncio.Event
) -> None:
    """Set `phase_stop` when the outer stop is set or the phase's condition holds."""
    assert phase.until is not None
    started = time.monotonic()
    while not outer.is_set():
        if time.monotonic() - started >= phase.min_s and await phase.until(clients):
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(outer.wait(), timeout=phase.check_every_s)
    phase_stop.set()


def _add(total: Stats, stats: Stats) -> None:
    total.latencies.extend(stats.latencies)
    total.statuses.update(stats.statuses)
    total.errors.update(stats.errors)
    total.by_endpoint.update(stats.by_endpoint)
    total.failed += stats.failed
    total.client_errors += stats.client_errors
    total.cancelled += stats.cancelled
    total.observe_in_flight(stats.peak_in_flight)


async def _run_phase(
    clients: PlatformClient,
    phase: Phase,
    stop: asyncio.Event,
    seed: int | None,
    on_tick: Callable[[Stats, float], None],
) -> tuple[Stats, float]:
    """One phase's traffic; a phase with a condition gets its own stop, set when it holds."""
    phase_stop, ender = stop, None
    if phase.until is not None:
        phase_stop = asyncio.Event()
        ender = asyncio.create_task(_end_when(phase, clients, stop, phase_stop))
    try:
        return await run_load(
            phase.plan,
            MixGenerator(phase.mix, seed),
            clients.targets,
            clients.client,
            phase_stop,
            on_tick=on_tick,
        )
    finally:
        if ender is not None:
            ender.cancel()
            await asyncio.gather(ender, return_exceptions=True)


async def run_phases(
    clients: PlatformClient,
    phases: list[Phase],
    ui: Ui,
    stop: asyncio.Event,
    seed: int | None = None,
    show_progress: bool = True,
) -> tuple[dict[str, dict[str, Any]], Stats, float]:
    """Run traffic phases one after another with progress bars; per-phase and total stats."""
    total = Stats()
    summaries: dict[str, dict[str, Any]] = {}
    elapsed_total = 0.0
    with ui.progress(enabled=show_progress) as progress:
        for phase in phases:
            if stop.is_set():
                break
            task = progress.add_task(phase.name, total=phase.plan.duration_s, detail="")

            def tick(stats: Stats, elapsed: float, task_id: Any = task) -> None:
                progress.update(task_id, completed=elapsed, detail=live_detail(stats, elapsed))

            stats, elapsed = await _run_phase(clients, phase, stop, seed, tick)
            summaries[phase.name] = stats.summary(elapsed)
            elapsed_total += elapsed
            _add(total, stats)
    return summaries, total, elapsed_total


@dataclass
class BackgroundTraffic:
    """Traffic that runs beside something else (a scenario's background and overload), each
    phase with its own stop, and without a progress bar."""

    clients: PlatformClient
    ui: Ui
    summaries: dict[str, Any] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stops: list[asyncio.Event] = field(default_factory=list)

    def start(self, phase: Phase) -> asyncio.Event:
        own_stop = asyncio.Event()
        self.stops.append(own_stop)
        self.tasks.append(asyncio.create_task(self._drive(phase, own_stop)))
        return own_stop

    async def _drive(self, phase: Phase, own_stop: asyncio.Event) -> None:
        # No bar: the traffic's planned length is only an upper bound on the scenario.
        _, total, elapsed = await run_phases(
            self.clients, [phase], self.ui, own_stop, show_progress=False
        )
        self.summaries[phase.name] = total.summary(elapsed)

    async def relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.stop()

    def stop(self) -> None:
        for event in self.stops:
            event.set()

    async def wait(self, timeout_s: float = 15.0) -> None:
        self.stop()
        if not self.tasks:
            return
        _, pending = await asyncio.wait(self.tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
