"""`chaos scenario`: a closed-loop scenario, timed from the fault to detect, act and recover."""

from __future__ import annotations

import asyncio
import dataclasses

import click

from chaos_simulator.client import PlatformClient
from chaos_simulator.commands.common import (
    EXIT_INTERRUPTED,
    EXIT_NOT_CLOSED,
    json_option,
    make_plan,
    run_async,
)
from chaos_simulator.mix import SERVICES, select_mix
from chaos_simulator.phases import Phase
from chaos_simulator.render import Ui, render_scenario
from chaos_simulator.scenario import SCENARIOS, Scenario, ScenarioOptions
from chaos_simulator.scenarios import run_scenario


def check_timeouts(opts: ScenarioOptions) -> None:
    """Every wait is bounded and positive; the cooldown wait may be 0 (inject at once)."""
    for label, value in (
        ("--warmup-timeout", opts.warmup_timeout_s),
        ("--detect-timeout", opts.detect_timeout_s),
        ("--act-timeout", opts.act_timeout_s),
        ("--recover-timeout", opts.recover_timeout_s),
        ("--poll", opts.poll_s),
    ):
        if not 0 < value <= 3600:
            raise click.BadParameter(f"{label} must be in (0, 3600] seconds")
    if not 0 <= opts.cooldown_timeout_s <= 3600:
        raise click.BadParameter("--cooldown-timeout must be in [0, 3600] seconds")


def scenario_traffic(
    sc: Scenario, opts: ScenarioOptions, rate: float, concurrency: int, overload_concurrency: int
) -> tuple[Phase, Phase | None]:
    """Background traffic, and the overload when the scenario's fault is traffic itself. It
    may run through every phase, so its plan is bounded by the sum of the timeouts."""
    bound = (
        opts.cooldown_timeout_s
        + opts.warmup_timeout_s
        + opts.detect_timeout_s
        + opts.act_timeout_s
        + opts.recover_timeout_s
        + 30.0
    )
    background = Phase(
        "background", make_plan(bound, concurrency, rate, None, 5.0), select_mix(None)
    )
    overload = None
    if sc.fault is None:
        overload = Phase(
            "overload",
            make_plan(bound, overload_concurrency, None, None, 10.0),
            select_mix([sc.service], heavy=True),
        )
    return background, overload


@click.command()
@click.argument("name", type=click.Choice(sorted(SCENARIOS)))
@click.option(
    "--warmup-timeout",
    type=float,
    default=180.0,
    show_default=True,
    help="Seconds to wait for the signal's baseline before injecting.",
)
@click.option(
    "--cooldown-timeout",
    type=float,
    default=330.0,
    show_default=True,
    help="Seconds to wait, before injecting, for a closing policy to leave its cooldown "
    "(longer: stop; 0: inject at once).",
)
@click.option(
    "--detect-timeout",
    type=float,
    default=90.0,
    show_default=True,
    help="Seconds from the fault to an open anomaly.",
)
@click.option(
    "--act-timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds from detection to the action.",
)
@click.option(
    "--recover-timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds from the action to the anomaly's resolution.",
)
@click.option(
    "--expect-dry-run",
    is_flag=True,
    help="The policy engine is in dry-run: a dry_run action record counts as 'act', "
    "then the CLI clears the fault itself and measures recovery.",
)
@click.option(
    "--rate",
    type=float,
    default=10.0,
    show_default=True,
    help="Background requests/s during the scenario.",
)
@click.option(
    "--concurrency", type=int, default=4, show_default=True, help="Background concurrency."
)
@click.option(
    "--overload-concurrency",
    type=int,
    default=32,
    show_default=True,
    help="cpu-scale: concurrent CPU-heavy requests of the overload.",
)
@click.option(
    "--poll",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds between polls of the platform.",
)
@click.option(
    "--service",
    "target_service",
    type=click.Choice(SERVICES),
    default=None,
    help="Run the scenario on this service instead of its default one.",
)
@json_option
@click.pass_context
def scenario(
    ctx: click.Context,
    name: str,
    target_service: str | None,
    warmup_timeout: float,
    cooldown_timeout: float,
    detect_timeout: float,
    act_timeout: float,
    recover_timeout: float,
    expect_dry_run: bool,
    rate: float,
    concurrency: int,
    overload_concurrency: int,
    poll: float,
    json_mode: bool,
) -> None:
    """Run a closed-loop scenario and report time to detect, to act and to recover.

    \b
    latency-restart  800 ms latency on orders      -> restart_container
    errors-restart   50% HTTP 500 on payments      -> restart_container
    cpu-scale        CPU-bound overload of orders  -> scale_up

    Exit 3 if the loop did not close within the timeouts.
    """
    ui = Ui(json_mode)
    opts = ScenarioOptions(
        warmup_timeout,
        detect_timeout,
        act_timeout,
        recover_timeout,
        expect_dry_run,
        poll,
        cooldown_timeout,
    )
    check_timeouts(opts)
    sc = SCENARIOS[name]
    if target_service is not None:
        sc = dataclasses.replace(sc, service=target_service)
    background, overload = scenario_traffic(sc, opts, rate, concurrency, overload_concurrency)

    async def body(clients: PlatformClient, ui: Ui, stop: asyncio.Event) -> int:
        report = await run_scenario(clients, ui, stop, sc, opts, background, overload)
        render_scenario(ui, report)
        if stop.is_set():
            return EXIT_INTERRUPTED
        return 0 if report["closed"] else EXIT_NOT_CLOSED

    run_async(ctx, ui, body, pool=max(concurrency, overload_concurrency))
