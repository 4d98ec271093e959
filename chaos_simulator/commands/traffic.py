"""Traffic commands: `load`, `steady` and `spike`, each optionally watching the platform."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click

from chaos_simulator.client import PlatformClient
from chaos_simulator.commands.common import (
    json_option,
    make_plan,
    run_async,
    service_multi,
    traffic_options,
    watch_option,
)
from chaos_simulator.mix import SERVICES, select_mix
from chaos_simulator.phases import BaselinesLearned, Phase, learned_state, preflight, run_phases
from chaos_simulator.render import Ui, render_traffic
from chaos_simulator.watch import PlatformWatch


def _plan_report(phases: list[Phase]) -> dict[str, Any]:
    return {
        p.name: {
            "duration_s": p.plan.duration_s,
            "concurrency": p.plan.concurrency,
            "rate": p.plan.rate,
            "max_requests": p.plan.max_requests,
            "endpoints": [e.name for e in p.mix],
        }
        for p in phases
    }


def traffic_command(
    ctx: click.Context,
    ui: Ui,
    name: str,
    phases: list[Phase],
    watch: bool,
    seed: int | None = None,
    watch_services: list[str] | None = None,
) -> None:
    """Shared body of load / steady / spike: preflight, phases, optional platform watch (of
    `watch_services`, by default every service the traffic reaches)."""
    needed = sorted({e.service for p in phases for e in p.mix})
    watched = (watch_services or needed) if watch else []

    async def body(clients: PlatformClient, ui: Ui, stop: asyncio.Event) -> int:
        await preflight(clients, needed)
        ui.info(f"{name}: " + ", ".join(p.describe() for p in phases))
        platform = None
        watch_task = None
        if watched:
            total_s = sum(p.plan.duration_s for p in phases)
            platform = PlatformWatch(clients, watched, since=time.time() - 1.0)
            watch_task = asyncio.create_task(platform.run(stop, time.monotonic() + total_s + 5))
        try:
            summaries, total, elapsed = await run_phases(clients, phases, ui, stop, seed=seed)
        finally:
            if watch_task is not None:
                watch_task.cancel()
                await asyncio.gather(watch_task, return_exceptions=True)
        report: dict[str, Any] = {
            "command": name,
            "interrupted": stop.is_set(),
            "targets": clients.targets.services,
            "plan": _plan_report(phases),
            "summary": total.summary(elapsed),
            "phases": summaries,
        }
        if (baselines := learned_state(phases, ui)) is not None:
            report["baselines"] = baselines
        if platform is not None:
            await platform.poll_once()
            report["platform"] = platform.report()
        render_traffic(ui, report, f"{name}: traffic summary")
        return 0

    pool = max(p.plan.concurrency for p in phases)
    run_async(ctx, ui, body, pool=pool)


@click.command()
@service_multi
@traffic_options(duration=60.0, concurrency=8, rate=20.0)
@watch_option
@json_option
@click.pass_context
def load(
    ctx: click.Context,
    services: tuple[str, ...],
    duration: float,
    requests: int | None,
    concurrency: int,
    rate: float | None,
    timeout: float,
    seed: int | None,
    watch: bool,
    json_mode: bool,
) -> None:
    """Healthy load: the weighted mix of real endpoints at a moderate rate (triggers nothing)."""
    plan = make_plan(duration, concurrency, rate, requests, timeout)
    phases = [Phase("load", plan, select_mix(services))]
    traffic_command(ctx, Ui(json_mode), "load", phases, watch, seed)


@click.command()
@service_multi
@traffic_options(duration=300.0, concurrency=4, rate=5.0)
@watch_option
@json_option
@click.pass_context
def steady(
    ctx: click.Context,
    services: tuple[str, ...],
    duration: float,
    requests: int | None,
    concurrency: int,
    rate: float | None,
    timeout: float,
    seed: int | None,
    watch: bool,
    json_mode: bool,
) -> None:
    """Low constant background traffic for long runs (baselines, false-positive checks)."""
    plan = make_plan(duration, concurrency, rate, requests, timeout)
    phases = [Phase("steady", plan, select_mix(services))]
    traffic_command(ctx, Ui(json_mode), "steady", phases, watch, seed)


@click.command()
@click.option(
    "--service",
    "-s",
    "service",
    type=click.Choice(SERVICES),
    default="orders",
    show_default=True,
    help="The service to saturate.",
)
@traffic_options(duration=90.0, concurrency=32, rate=None)
@click.option(
    "--baseline-duration",
    type=float,
    default=20.0,
    show_default=True,
    help="Seconds of normal traffic before the spike.",
)
@click.option(
    "--cooldown-duration",
    type=float,
    default=180.0,
    show_default=True,
    help="Seconds of normal traffic after the spike (watch the scale-down).",
)
@click.option(
    "--learn-timeout",
    type=float,
    default=240.0,
    show_default=True,
    help="Extend the baseline phase until the anomaly service has learned the service's "
    "normal, for at most this many seconds (0: do not wait).",
)
@click.option(
    "--baseline-rate",
    type=float,
    default=5.0,
    show_default=True,
    help="Requests/s before and after the spike.",
)
@watch_option
@json_option
@click.pass_context
def spike(
    ctx: click.Context,
    service: str,
    duration: float,
    requests: int | None,
    concurrency: int,
    rate: float | None,
    timeout: float,
    seed: int | None,
    baseline_duration: float,
    cooldown_duration: float,
    learn_timeout: float,
    baseline_rate: float,
    watch: bool,
    json_mode: bool,
) -> None:
    """Baseline, then a CPU-heavy burst at high concurrency on one service, then cool-down.

    --duration is the spike's length; the burst is order creation (pricing, fraud score) on
    orders, enough to saturate a core so the shipped policies scale the service up.
    """
    phases = []
    base_mix = select_mix(None)
    # A spike before the anomaly service knows the service's normal would be learned as normal
    # (right after `make up`); the baseline phase lasts until it is learned, within bounds.
    learned = BaselinesLearned((service,)) if learn_timeout > 0 else None
    longest = max(baseline_duration, learn_timeout)
    if longest > 0:
        plan = make_plan(longest, 4, baseline_rate, None, timeout)
        phases.append(Phase("baseline", plan, base_mix, until=learned, min_s=baseline_duration))
    phases.append(
        Phase(
            "spike",
            make_plan(duration, concurrency, rate, requests, timeout),
            select_mix([service], heavy=True),
        )
    )
    if cooldown_duration > 0:
        phases.append(
            Phase(
                "cooldown", make_plan(cooldown_duration, 4, baseline_rate, None, timeout), base_mix
            )
        )
    traffic_command(ctx, Ui(json_mode), "spike", phases, watch, seed, watch_services=[service])
