"""Async traffic: N workers draw requests from the mix, optionally paced to a global rate,
until the duration, the request budget or a stop request ends the run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from chaos_simulator.mix import MixGenerator
from chaos_simulator.stats import Outcome, Stats
from chaos_simulator.targets import Targets, describe_error

MAX_DURATION_S = 24 * 3600.0  # every run is bounded in time even if asked for more


@dataclass(frozen=True)
class LoadPlan:
    duration_s: float
    concurrency: int = 4
    rate: float | None = None  # total requests/s; None = as fast as the workers go
    max_requests: int | None = None
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.duration_s <= MAX_DURATION_S:
            raise ValueError(f"duration must be in (0, {MAX_DURATION_S:g}] seconds")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be > 0")
        if self.max_requests is not None and self.max_requests < 1:
            raise ValueError("requests must be >= 1")
        if self.timeout_s <= 0:
            raise ValueError("timeout must be > 0")


TickFn = Callable[[Stats, float], None]


class _Pacer:
    """A shared schedule of send slots at `rate`; a late run does not burst to catch up."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_slot = time.monotonic()

    def take(self) -> float:
        now = time.monotonic()
        slot = max(self.next_slot, now)
        self.next_slot = slot + self.interval
        return slot - now


@dataclass
class _Run:
    """One run's shared state: the workers draw from it until the deadline, the request
    budget or a stop."""

    plan: LoadPlan
    generator: MixGenerator
    targets: Targets
    client: httpx.AsyncClient
    stop: asyncio.Event
    stats: Stats
    deadline: float
    pacer: _Pacer
    issued: int = 0
    in_flight: int = 0

    def over(self) -> bool:
        return self.stop.is_set() or time.monotonic() >= self.deadline

    async def _my_turn(self) -> bool:
        """Take a request from the budget and wait for its slot; False: the run is over."""
        if self.plan.max_requests is not None and self.issued >= self.plan.max_requests:
            return False
        self.issued += 1
        wait = self.pacer.take() if self.plan.rate else 0.0
        if wait > 0:
            await asyncio.sleep(min(wait, max(0.0, self.deadline - time.monotonic())))
            return not self.over()
        return True

    async def _send(self) -> None:
        req = self.generator.next()
        url = self.targets.service_url(req.service) + req.path
        self.in_flight += 1
        self.stats.observe_in_flight(self.in_flight)
        t0 = time.monotonic()
        try:
            response = await self.client.request(
                req.method, url, json=req.json, timeout=self.plan.timeout_s
            )
            self.stats.add(Outcome(req.endpoint, response.status_code, time.monotonic() - t0))
        except asyncio.CancelledError:
            self.stats.cancelled += 1
            raise
        except httpx.HTTPError as exc:
            elapsed = time.monotonic() - t0
            self.stats.add(Outcome(req.endpoint, None, elapsed, describe_error(exc)))
        finally:
            self.in_flight -= 1

    async def worker(self) -> None:
        while not self.over() and await self._my_turn():
            await self._send()


async def _tick(on_tick: TickFn | None, stats: Stats, start: float, tick_s: float) -> None:
    while True:
        if on_tick is not None:
            on_tick(stats, time.monotonic() - start)
        await asyncio.sleep(tick_s)


async def run_load(
    plan: LoadPlan,
    generator: MixGenerator,
    targets: Targets,
    client: httpx.AsyncClient,
    stop: asyncio.Event,
    stats: Stats | None = None,
    on_tick: TickFn | None = None,
    tick_s: float = 0.25,
) -> tuple[Stats, float]:
    """Run `plan`; return the stats and the elapsed seconds. In-flight requests at the end are
    cancelled (counted as `cancelled`) so the duration holds even against hung services."""
    stats = stats or Stats()
    start = time.monotonic()
    deadline = start + plan.duration_s
    run = _Run(plan, generator, targets, client, stop, stats, deadline, _Pacer(plan.rate))
    workers = [asyncio.create_task(run.worker()) for _ in range(plan.concurrency)]
    tick_task = asyncio.create_task(_tick(on_tick, stats, start, tick_s))

    async def finished() -> None:
        await asyncio.gather(*workers, return_exceptions=True)

    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(finished())]
    try:
        await asyncio.wait(
            waiters,
            timeout=max(0.0, deadline - time.monotonic()),
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        for task in [*workers, tick_task, *waiters]:
            task.cancel()
        await asyncio.gather(*workers, tick_task, *waiters, return_exceptions=True)
    elapsed = time.monotonic() - start
    if on_tick is not None:
        on_tick(stats, elapsed)
    return stats, elapsed
