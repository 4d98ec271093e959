"""What every command shares: exit codes, running an async body with Ctrl-C handling and
uniform error exits, and the options several commands take."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import click

from chaos_simulator.client import ApiError, PlatformClient, open_client
from chaos_simulator.faults import FaultError
from chaos_simulator.loadgen import LoadPlan
from chaos_simulator.mix import SERVICES
from chaos_simulator.render import Ui
from chaos_simulator.scenario import ScenarioAbort
from chaos_simulator.targets import Targets, TargetUnreachable

EXIT_UNREACHABLE = 1
EXIT_NOT_CLOSED = 3
EXIT_INTERRUPTED = 130

AsyncMain = Callable[[PlatformClient, Ui, asyncio.Event], Awaitable[int]]


def install_stop_signals(stop: asyncio.Event, ui: Ui) -> None:
    """First Ctrl-C (or SIGTERM) asks for a clean stop; a second one interrupts at once."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            loop.remove_signal_handler(signal.SIGINT)
            return
        stop.set()
        ui.info(f"[yellow]{signal.Signals(signum).name}: stopping, cleaning up...[/]")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)


def report_failure(ui: Ui, exc: Exception, interrupted: bool) -> int:
    """One clear message for a failed command, and its exit code."""
    if interrupted:
        ui.error(f"interrupted: {exc}")
        return EXIT_INTERRUPTED
    if isinstance(exc, TargetUnreachable):
        ui.error(
            f"{exc}\n  Is the stack up (`make up`)? Otherwise point the CLI at it with "
            "--orders-url/--users-url/--payments-url (ORDERS_URL, ...), --anomaly-url "
            "(ANOMALY_SERVICE_URL) or --policy-url (POLICY_ENGINE_URL)."
        )
    else:
        ui.error(str(exc))
    return EXIT_UNREACHABLE


def run_async(ctx: click.Context, ui: Ui, body: AsyncMain, pool: int = 16) -> None:
    """Run one command's async body with Ctrl-C handling and uniform error exits."""
    targets: Targets = ctx.obj
    stop = asyncio.Event()

    async def wrapper() -> int:
        install_stop_signals(stop, ui)
        async with open_client(targets, pool) as clients:
            code = await body(clients, ui, stop)
        return EXIT_INTERRUPTED if stop.is_set() and code == 0 else code

    try:
        code = asyncio.run(wrapper())
    except (TargetUnreachable, ApiError, ScenarioAbort, FaultError) as exc:
        code = report_failure(ui, exc, interrupted=stop.is_set())
    ctx.exit(code)


json_option = click.option("--json", "json_mode", is_flag=True, help="Machine-readable output.")
watch_option = click.option(
    "--watch/--no-watch",
    default=True,
    show_default=True,
    help="Report the anomalies and actions the platform recorded during the run.",
)
service_multi = click.option(
    "--service",
    "-s",
    "services",
    multiple=True,
    type=click.Choice(SERVICES),
    help="Limit traffic to this service's endpoints (repeatable; default: all).",
)


def traffic_options(duration: float, concurrency: int, rate: float | None) -> Callable[..., Any]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(
            [
                click.option(
                    "--duration",
                    "-d",
                    type=float,
                    default=duration,
                    show_default=True,
                    help="Seconds of traffic.",
                ),
                click.option(
                    "--requests",
                    "-n",
                    type=int,
                    default=None,
                    help="Stop after this many requests (also bounded by --duration).",
                ),
                click.option(
                    "--concurrency",
                    "-c",
                    type=int,
                    default=concurrency,
                    show_default=True,
                    help="Requests in flight at once.",
                ),
                click.option(
                    "--rate",
                    "-r",
                    type=float,
                    default=rate,
                    show_default=True,
                    help="Total requests per second (omit or 0 for as fast as possible).",
                ),
                click.option(
                    "--timeout",
                    type=float,
                    default=5.0,
                    show_default=True,
                    help="Per-request timeout, seconds.",
                ),
                click.option("--seed", type=int, default=None, help="Seed for the request mix."),
            ]
        ):
            fn = option(fn)
        return fn

    return decorate


def make_plan(
    duration: float, concurrency: int, rate: float | None, requests: int | None, timeout: float
) -> LoadPlan:
    try:
        return LoadPlan(duration, concurrency, rate or None, requests, timeout)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
