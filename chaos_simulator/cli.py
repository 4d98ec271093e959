"""The `chaos` command line (click). Each command builds typed plans, runs the async core once
and renders the result; exit codes: 0 ok, 1 target unreachable or refused, 2 usage, 3 a
scenario's loop did not close, 130 interrupted (after cleaning up)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import click

from chaos_simulator.faults import FAULT_KINDS, FaultError, build_fault, parse_assignments
from chaos_simulator.http import ApiError, Clients
from chaos_simulator.loadgen import LoadPlan
from chaos_simulator.mix import SERVICES, select_mix
from chaos_simulator.render import (
    Ui,
    errors_table,
    health_table,
    render_status,
    scenario_table,
    summary_table,
)
from chaos_simulator.runner import (
    BaselinesLearned,
    Phase,
    PlatformWatch,
    ScenarioAbort,
    ScenarioOptions,
    install_stop_signals,
    learned_state,
    open_clients,
    preflight,
    run_chaos,
    run_phases,
    run_scenario,
)
from chaos_simulator.scenario import SCENARIOS
from chaos_simulator.targets import (
    DEFAULT_ANOMALY_URL,
    DEFAULT_POLICY_URL,
    DEFAULT_URLS,
    Targets,
    TargetUnreachable,
)

EXIT_UNREACHABLE = 1
EXIT_NOT_CLOSED = 3
EXIT_INTERRUPTED = 130

# Restart-curable faults for `chaos chaos`: persistent (no duration) so only a restart ends them.
CHAOS_FAULTS: dict[str, dict[str, Any]] = {
    "latency": {"ms": 800, "jitter_ms": 100},
    "errors": {"rate": 0.5, "status": 500},
    "hang": {"probability": 0.3},
}

AsyncMain = Callable[[Clients, Ui, asyncio.Event], Awaitable[int]]


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
        async with open_clients(targets, pool) as clients:
            code = await body(clients, ui, stop)
        return EXIT_INTERRUPTED if stop.is_set() and code == 0 else code

    try:
        code = asyncio.run(wrapper())
    except (TargetUnreachable, ApiError, ScenarioAbort, FaultError) as exc:
        code = report_failure(ui, exc, interrupted=stop.is_set())
    ctx.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--orders-url", envvar="ORDERS_URL", default=DEFAULT_URLS["orders"], show_default=True
)
@click.option("--users-url", envvar="USERS_URL", default=DEFAULT_URLS["users"], show_default=True)
@click.option(
    "--payments-url", envvar="PAYMENTS_URL", default=DEFAULT_URLS["payments"], show_default=True
)
@click.option(
    "--anomaly-url", envvar="ANOMALY_SERVICE_URL", default=DEFAULT_ANOMALY_URL, show_default=True
)
@click.option(
    "--policy-url", envvar="POLICY_ENGINE_URL", default=DEFAULT_POLICY_URL, show_default=True
)
@click.option("--policy-token", envvar="POLICY_ENGINE_TOKEN", default=None, show_default=False)
@click.pass_context
def main(
    ctx: click.Context,
    orders_url: str,
    users_url: str,
    payments_url: str,
    anomaly_url: str,
    policy_url: str,
    policy_token: str | None,
) -> None:
    """Drive Relia: traffic, faults, and closed-loop scenarios.

    Targets default to the compose stack on 127.0.0.1; the options (or their environment
    variables) point elsewhere.
    """
    ctx.obj = Targets(
        services={"orders": orders_url, "users": users_url, "payments": payments_url},
        anomaly_url=anomaly_url,
        policy_url=policy_url,
        policy_token=policy_token or None,
    )


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


def render_traffic(ui: Ui, report: dict[str, Any], title: str) -> None:
    if ui.json_mode:
        ui.emit_json(report)
        return
    phases = dict(report.get("phases") or {})
    if len(phases) != 1:
        phases["total"] = report["summary"]
    else:
        phases = {"total": report["summary"]}
    ui.out.print(summary_table(phases, title))
    table = errors_table(report["summary"])
    if table is not None:
        ui.out.print(table)
    platform = report.get("platform")
    if platform:
        render_platform(ui, platform)
    if report.get("interrupted"):
        ui.out.print("[yellow]interrupted: partial figures[/]")


def render_platform(ui: Ui, platform: dict[str, Any]) -> None:
    for name in platform.get("unreachable", []):
        ui.out.print(f"[yellow]{name} did not answer: no platform events shown[/]")
    if not (platform.get("unreachable") or platform.get("anomalies") or platform.get("actions")):
        watched = ", ".join(platform.get("services", []))
        ui.out.print(f"platform: no anomaly and no action on {watched} during the run")
    for a in platform.get("anomalies", []):
        ui.out.print(
            f"anomaly {a.get('id')} {a.get('service')}/{a.get('metric')} {a.get('severity')} "
            f"{a.get('status')}: {a.get('summary') or ''}"
        )
    for a in platform.get("actions", []):
        ui.out.print(
            f"action {a.get('action')} on {a.get('service')} by {a.get('policy')}: "
            f"{a.get('outcome')}{' (' + str(a.get('reason')) + ')' if a.get('reason') else ''}"
        )


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

    async def body(clients: Clients, ui: Ui, stop: asyncio.Event) -> int:
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
            "plan": {
                p.name: {
                    "duration_s": p.plan.duration_s,
                    "concurrency": p.plan.concurrency,
                    "rate": p.plan.rate,
                    "max_requests": p.plan.max_requests,
                    "endpoints": [e.name for e in p.mix],
                }
                for p in phases
            },
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


@main.command()
@click.option(
    "--platform/--no-platform",
    default=True,
    show_default=True,
    help="Also check the anomaly service and the policy engine.",
)
@json_option
@click.pass_context
def health(ctx: click.Context, platform: bool, json_mode: bool) -> None:
    """Check /health and /ready of every target; non-zero exit if any is down."""
    ui = Ui(json_mode)

    async def body(clients: Clients, ui: Ui, stop: asyncio.Event) -> int:
        checks = [clients.service(s).health() for s in clients.services]
        rows = list(await asyncio.gather(*checks))
        if platform:
            for api in (clients.anomaly, clients.policy):
                row: dict[str, Any] = {"name": api.name, "url": api.base_url}
                try:
                    await api.call("GET", "/health", timeout_s=3.0)
                    row["health"] = True
                    response = await api.call("GET", "/ready", ok=(200, 503), timeout_s=3.0)
                    row["ready"] = response.status_code == 200
                except TargetUnreachable as exc:
                    row["health"] = False
                    row["error"] = exc.reason
                except ApiError as exc:
                    row["health"] = False
                    row["error"] = str(exc)
                row["ok"] = row["health"]
                rows.append(row)
        ok = all(r["ok"] for r in rows)
        if ui.json_mode:
            ui.emit_json({"ok": ok, "targets": rows})
        else:
            ui.out.print(health_table(rows))
        if not ok:
            down = ", ".join(f"{r['name']} ({r['url']})" for r in rows if not r["ok"])
            ui.error(f"unreachable: {down}")
        return 0 if ok else EXIT_UNREACHABLE

    run_async(ctx, ui, body)


@main.command()
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


@main.command()
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


@main.command()
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


@main.command(name="chaos")
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

    async def body(clients: Clients, ui: Ui, stop: asyncio.Event) -> int:
        report = await run_chaos(
            clients, ui, stop, chosen, fault, phase, settle, seed=seed, learn=learn
        )
        if ui.json_mode:
            ui.emit_json(report)
        else:
            render_traffic(
                ui,
                {"summary": report["traffic"], "phases": report["phases"]},
                "chaos: traffic summary",
            )
            for row in report["faults"]:
                state = (
                    f"[green]cured after {row['cured_after_s']}s[/]"
                    if row["cured"]
                    else "[yellow]not cured[/]"
                )
                cleared = ", cleared by the CLI" if row["cleared_by_cli"] else ""
                ui.out.print(
                    f"{row['service']}: {row['kind']} fault {row['fault_id']} {state}{cleared}"
                )
            render_platform(ui, report["platform"])
            if report["interrupted"]:
                ui.out.print("[yellow]interrupted: injected faults cleared[/]")
        return 0

    run_async(ctx, ui, body, pool=concurrency)


@main.command()
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

    async def body(clients: Clients, ui: Ui, stop: asyncio.Event) -> int:
        record = await clients.service(service).inject(fault)
        if ui.json_mode:
            ui.emit_json({"service": service, **record})
        else:
            expires = record.get("expires_at")
            ui.out.print(
                f"injected {record.get('kind')} on {service}: id {record.get('id')} "
                f"params {record.get('params')} "
                + (f"expires in {expires - time.time():.0f}s" if expires else "until cleared")
            )
        return 0

    run_async(ctx, ui, body)


@main.command()
@click.argument("service", required=False, type=click.Choice(SERVICES))
@click.option("--id", "fault_id", default=None, help="Clear only this fault (needs SERVICE).")
@json_option
@click.pass_context
def clear(ctx: click.Context, service: str | None, fault_id: str | None, json_mode: bool) -> None:
    """Clear faults on one service, or on all of them."""
    ui = Ui(json_mode)
    if fault_id and not service:
        raise click.BadParameter("--id needs a SERVICE")

    async def body(clients: Clients, ui: Ui, stop: asyncio.Event) -> int:
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


@main.command()
@click.option(
    "--platform/--no-platform",
    default=True,
    show_default=True,
    help="Also show open anomalies and the policy engine's state.",
)
@json_option
@click.pass_context
def status(ctx: click.Context, platform: bool, json_mode: bool) -> None:
    """Active faults on every service (and the platform's view when reachable)."""
    ui = Ui(json_mode)

    async def body(clients: Clients, ui: Ui, stop: asyncio.Event) -> int:
        faults: dict[str, Any] = {}
        for name, api in clients.services.items():
            faults[name] = await api.faults()
        doc: dict[str, Any] = {"faults": faults}
        if platform:
            try:
                doc["anomalies"] = await clients.anomaly.anomalies(status="active")
            except (TargetUnreachable, ApiError) as exc:
                doc["anomalies_error"] = str(exc)
            try:
                doc["policy_engine"] = await clients.policy.status()
            except (TargetUnreachable, ApiError) as exc:
                doc["policy_engine_error"] = str(exc)
        if ui.json_mode:
            ui.emit_json(doc)
            return 0
        render_status(ui, doc)
        return 0

    run_async(ctx, ui, body)


@main.command()
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
    for label, value in (
        ("--warmup-timeout", warmup_timeout),
        ("--detect-timeout", detect_timeout),
        ("--act-timeout", act_timeout),
        ("--recover-timeout", recover_timeout),
        ("--poll", poll),
    ):
        if not 0 < value <= 3600:
            raise click.BadParameter(f"{label} must be in (0, 3600] seconds")
    if not 0 <= cooldown_timeout <= 3600:
        raise click.BadParameter("--cooldown-timeout must be in [0, 3600] seconds")
    sc = SCENARIOS[name]
    if target_service is not None:
        sc = dataclasses.replace(sc, service=target_service)
    opts = ScenarioOptions(
        warmup_timeout,
        detect_timeout,
        act_timeout,
        recover_timeout,
        expect_dry_run,
        poll,
        cooldown_timeout,
    )
    # Traffic may run through every phase; its plan is bounded by the sum of the timeouts.
    bound = cooldown_timeout + warmup_timeout + detect_timeout + act_timeout + recover_timeout
    bound += 30.0
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

    async def body(clients: Clients, ui: Ui, stop: asyncio.Event) -> int:
        report = await run_scenario(clients, ui, stop, sc, opts, background, overload)
        if ui.json_mode:
            ui.emit_json(report)
        else:
            ui.out.print(scenario_table(report))
            if report["traffic"]:
                ui.out.print(summary_table(report["traffic"], "Traffic during the scenario"))
            for a in report["other_actions"]:
                ui.out.print(f"other action: {a['action']} {a['outcome']} ({a['reason']})")
            colour = "green" if report["closed"] else "red"
            ui.out.print(f"[{colour}]{report['message']}[/]")
        if stop.is_set():
            return EXIT_INTERRUPTED
        return 0 if report["closed"] else EXIT_NOT_CLOSED

    run_async(ctx, ui, body, pool=max(concurrency, overload_concurrency))
