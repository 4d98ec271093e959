"""Fault commands: `inject` and `clear` one fault at a time, and `chaos` (restart-curable
faults under traffic, watched until the platform cures them)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click

from chaos_simulator.client import PlatformClient
from chaos_simulator.commands.common import (
    EXIT_UNREACHABLE,
    json_option,
    make_plan,
    run_async,
    traffic_options,
)
from chaos_simulator.cures import run_chaos
from chaos_simulator.faults import FAULT_KINDS, FaultError, build_fault, parse_assignments
from chaos_simulator.mix import SERVICES, select_mix
from chaos_simulator.phases import BaselinesLearned, Phase
from chaos_simulator.render import Ui, render_chaos

# Restart-curable faults for `chaos chaos`: persistent (no duration) so only a restart ends them.
CHAOS_FAULTS: dict[str, dict[str, Any]] = {
    "latency": {"ms": 800, "jitter_ms": 100},
    "errors": {"rate": 0.5, "status": 500},
    "hang": {"probability": 0.3},
}


@click.command(name="chaos")
@click.option(
    "--service",
    "-s",
    "services",
    multiple=True,
    type=click.Choice(SERVICES),
    help="Service(s) to fault (repeatable; default: orders).",
)
@click.option(
    "--fault",
    "fault_kind",
    type=click.Choice(sorted(CHAOS_FAULTS)),
    default="latency",
    show_default=True,
    help="A fault only a restart ends.",
)
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a fault parameter, e.g. -p ms=1500.",
)
@traffic_options(duration=180.0, concurrency=8, rate=10.0)
@click.option(
    "--learn-timeout",
    type=float,
    default=240.0,
    show_default=True,
    help="Before injecting, normal traffic until the anomaly service has learned the "
    "services' normal, for at most this many seconds (0: inject at once).",
)
@click.option(
    "--settle",
    type=float,
    default=15.0,
    show_default=True,
    help="Seconds of traffic after every fault is cured before stopping.",
)
@json_option
@click.pass_context
def chaos_cmd(
    ctx: click.Context,
    services: tuple[str, ...],
    fault_kind: str,
    params: tuple[str, ...],
    duration: float,
    requests: int | None,
    concurrency: int,
    rate: float | None,
    timeout: float,
    seed: int | None,
    learn_timeout: float,
    settle: float,
    json_mode: bool,
) -> None:
    """Inject restart-curable faults under traffic and watch the platform cure them.

    The fault persists until its process restarts; the run reports when each one vanished
    (cured), the anomalies and actions the platform recorded, and clears what is left.
    """
    ui = Ui(json_mode)
    chosen = list(services) or ["orders"]
    try:
        fault = build_fault(fault_kind, {**CHAOS_FAULTS[fault_kind], **parse_assignments(params)})
    except FaultError as exc:
        raise click.BadParameter(str(exc)) from None
    phase = Phase(
        "chaos", make_plan(duration, concurrency, rate, requests, timeout), select_mix(None)
    )
    # A fault present from a series' first points would be learned as its normal.
    learn = None
    if learn_timeout > 0:
        plan = make_plan(learn_timeout, concurrency, rate, None, timeout)
        learn = Phase("baseline", plan, select_mix(None), until=BaselinesLearned(tuple(chosen)))

    async def body(clients: PlatformClient, ui: Ui, stop: asyncio.Event) -> int:
        report = await run_chaos(
            clients, ui, stop, chosen, fault, phase, settle, seed=seed, learn=learn
        )
        render_chaos(ui, report)
        return 0

    run_async(ctx, ui, body, pool=concurrency)


@click.command()
@click.argument("service", type=click.Choice(SERVICES))
@click.argument("kind", type=click.Choice(sorted(FAULT_KINDS)))
@click.option("--ms", type=float, help="latency: added milliseconds (> 0).")
@click.option("--jitter-ms", type=float, help="latency: +/- jitter in ms.")
@click.option("--probability", type=float, help="latency/hang: share of requests hit (0..1).")
@click.option("--rate", type=float, help="errors: share of requests failed (0..1).")
@click.option("--status", type=int, help="errors: HTTP status (500..599).")
@click.option("--intensity", type=float, help="cpu: share of one core burnt (0..1).")
@click.option("--mb-per-s", type=float, help="memory: growth in MB/s.")
@click.option("--max-mb", type=int, help="memory: cap in MB (whole MB).")
@click.option("--exit-code", type=int, help="crash: the process exit code.")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any parameter by name (same names as the API).",
)
@click.option(
    "--duration",
    type=float,
    default=None,
    help="Seconds until the fault ends by itself (default: until cleared/restart).",
)
@json_option
@click.pass_context
def inject(
    ctx: click.Context,
    /,  # click passes the context by position; **named takes the fault's options
    service: str,
    kind: str,
    params: tuple[str, ...],
    duration: float | None,
    json_mode: bool,
    **named: Any,
) -> None:
    """Inject a fault: chaos inject orders latency --ms 800."""
    ui = Ui(json_mode)
    given = {k: v for k, v in named.items() if v is not None}
    try:
        fault = build_fault(kind, {**given, **parse_assignments(params)}, duration)
    except FaultError as exc:
        raise click.BadParameter(str(exc)) from None

    async def body(clients: PlatformClient, ui: Ui, stop: asyncio.Event) -> int:
        record = await clients.service(service).inject(fault)
        if ui.json_mode:
            ui.emit_json({"service": service, **record.model_dump()})
        else:
            expires = record.expires_at
            ui.out.print(
                f"injected {record.kind} on {service}: id {record.id} params {record.params} "
                + (f"expires in {expires - time.time():.0f}s" if expires else "until cleared")
            )
        return 0

    run_async(ctx, ui, body)


@click.command()
@click.argument("service", required=False, type=click.Choice(SERVICES))
@click.option("--id", "fault_id", default=None, help="Clear only this fault (needs SERVICE).")
@json_option
@click.pass_context
def clear(ctx: click.Context, service: str | None, fault_id: str | None, json_mode: bool) -> None:
    """Clear faults on one service, or on all of them."""
    ui = Ui(json_mode)
    if fault_id and not service:
        raise click.BadParameter("--id needs a SERVICE")

    async def body(clients: PlatformClient, ui: Ui, stop: asyncio.Event) -> int:
        names = [service] if service else list(clients.services)
        cleared: dict[str, int] = {}
        for name in names:
            cleared[name] = await clients.service(name).clear(fault_id)
        if ui.json_mode:
            ui.emit_json({"cleared": cleared})
        else:
            for name, n in cleared.items():
                ui.out.print(f"{name}: cleared {n} fault(s)")
        if fault_id and not cleared.get(service or "", 0):
            ui.error(f"no fault {fault_id} on {service}")
            return EXIT_UNREACHABLE
        return 0

    run_async(ctx, ui, body)
