"""Async orchestration of the commands: preflight, traffic phases, fault watch, scenarios.
All loops are bounded by a deadline; a stop event (Ctrl-C) ends them early."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from chaos_simulator.http import ApiError, Clients
from chaos_simulator.loadgen import LoadPlan, run_load
from chaos_simulator.mix import Endpoint, MixGenerator
from chaos_simulator.render import Ui, live_detail
from chaos_simulator.scenario import (
    Scenario,
    Timeline,
    active_anomalies,
    match_action,
    match_anomaly,
)
from chaos_simulator.stats import Stats
from chaos_simulator.targets import Targets, TargetUnreachable


@contextlib.asynccontextmanager
async def open_clients(targets: Targets, pool: int = 16) -> AsyncIterator[Clients]:
    limits = httpx.Limits(max_connections=pool + 8, max_keepalive_connections=pool + 8)
    async with httpx.AsyncClient(limits=limits, timeout=5.0) as client:
        yield Clients(targets, client)


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


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if the stop event fired meanwhile."""
    if seconds <= 0:
        return stop.is_set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def preflight(clients: Clients, services: list[str]) -> None:
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
    until: Callable[[Clients], Awaitable[bool]] | None = None
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

    async def __call__(self, clients: Clients) -> bool:
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
    phase: Phase, clients: Clients, outer: asyncio.Event, phase_stop: asyncio.Event
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


async def run_phases(
    clients: Clients,
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

            phase_stop, ender = stop, None
            if phase.until is not None:
                phase_stop = asyncio.Event()
                ender = asyncio.create_task(_end_when(phase, clients, stop, phase_stop))
            try:
                stats, elapsed = await run_load(
                    phase.plan,
                    MixGenerator(phase.mix, seed),
                    clients.targets,
                    clients.client,
                    phase_stop,
                    on_tick=tick,
                )
            finally:
                if ender is not None:
                    ender.cancel()
                    await asyncio.gather(ender, return_exceptions=True)
            summaries[phase.name] = stats.summary(elapsed)
            elapsed_total += elapsed
            total.latencies.extend(stats.latencies)
            total.statuses.update(stats.statuses)
            total.errors.update(stats.errors)
            total.by_endpoint.update(stats.by_endpoint)
            total.failed += stats.failed
            total.client_errors += stats.client_errors
            total.cancelled += stats.cancelled
            total.observe_in_flight(stats.peak_in_flight)
    return summaries, total, elapsed_total


@dataclass
class PlatformWatch:
    """Polls the anomaly service and the policy engine for events on some services; a
    component that does not answer is reported, never fatal (traffic commands work without)."""

    clients: Clients
    services: list[str]
    since: float
    interval_s: float = 2.0
    anomalies: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)

    async def poll_once(self) -> None:
        for service in self.services:
            try:
                for a in await self.clients.anomaly.anomalies(service=service, since=self.since):
                    self.anomalies[str(a.get("id"))] = a
                self.unreachable.discard("anomaly service")
            except (TargetUnreachable, ApiError, ValueError):
                self.unreachable.add("anomaly service")
            try:
                for a in await self.clients.policy.actions(service=service, since=self.since):
                    self.actions[str(a.get("id"))] = a
                self.unreachable.discard("policy engine")
            except (TargetUnreachable, ApiError, ValueError):
                self.unreachable.add("policy engine")

    async def run(self, stop: asyncio.Event, deadline: float) -> None:
        while time.monotonic() < deadline:
            await self.poll_once()
            if await sleep_or_stop(stop, self.interval_s):
                return

    def report(self) -> dict[str, Any]:
        return {
            "services": list(self.services),
            "unreachable": sorted(self.unreachable),
            "anomalies": [
                {
                    k: a.get(k)
                    for k in (
                        "id",
                        "service",
                        "metric",
                        "severity",
                        "status",
                        "opened_at",
                        "resolved_at",
                        "summary",
                    )
                }
                for a in sorted(self.anomalies.values(), key=lambda a: a.get("opened_at") or 0)
            ],
            "actions": [
                {
                    k: a.get(k)
                    for k in (
                        "id",
                        "created_at",
                        "service",
                        "action",
                        "policy",
                        "target",
                        "outcome",
                        "reason",
                        "dry_run",
                    )
                }
                for a in sorted(self.actions.values(), key=lambda a: a.get("created_at") or 0)
            ],
        }


async def clear_injected(clients: Clients, injected: list[tuple[str, str]], ui: Ui) -> list[str]:
    """Delete exactly the faults this run injected; returns the ids actually removed."""
    removed: list[str] = []
    for service, fault_id in injected:
        try:
            if await clients.service(service).clear(fault_id):
                removed.append(fault_id)
        except (TargetUnreachable, ApiError) as exc:
            ui.warn(f"could not clear fault {fault_id} on {service}: {exc}")
    return removed


# ---------------------------------------------------------------- chaos (restart-curable faults)

CURE_CONFIRMATIONS = 3


async def run_chaos(
    clients: Clients,
    ui: Ui,
    stop: asyncio.Event,
    services: list[str],
    fault: dict[str, Any],
    phase: Phase,
    settle_s: float,
    poll_s: float = 1.0,
    seed: int | None = None,
    learn: Phase | None = None,
) -> dict[str, Any]:
    """Inject `fault` on each service, drive traffic, and watch each fault until a restart
    clears it (the cure); the run ends at the duration or `settle_s` after every cure.
    `learn` is normal traffic first, until the platform knows the services' normal."""
    await preflight(clients, sorted(set(services) | {e.service for e in phase.mix}))
    baseline: dict[str, dict[str, Any]] = {}
    baselines_state = None
    if learn is not None:
        baseline, _, _ = await run_phases(clients, [learn], ui, stop, seed=seed)
        # Already learned: the phase ended before its first request; no empty row.
        baseline = {name: row for name, row in baseline.items() if row.get("requests")}
        baselines_state = learned_state([learn], ui)
    t0 = time.time()
    injected: list[tuple[str, str]] = []
    faults: dict[str, dict[str, Any]] = {}
    try:
        for service in services if not stop.is_set() else []:
            record = await clients.service(service).inject(fault)
            injected.append((service, str(record["id"])))
            faults[service] = {"id": record["id"], "injected_at": time.time(), "cured_at": None}
            ui.info(f"injected {fault['kind']} on {service}: {record['id']}")
        watch = PlatformWatch(clients, services, since=t0 - 1.0)
        end = time.monotonic() + phase.plan.duration_s
        traffic_stop = asyncio.Event()

        async def cure_watch() -> None:
            cured_all_at: float | None = None
            while time.monotonic() < end and not stop.is_set():
                for service, info in faults.items():
                    if info["cured_at"] is not None:
                        continue
                    try:
                        ids = {str(f.get("id")) for f in await clients.service(service).faults()}
                    except (TargetUnreachable, ApiError):
                        continue  # a restarting service does not answer for a moment
                    if str(info["id"]) in ids:
                        info["first_absent"], info["absent"] = None, 0
                        continue
                    # Behind a gateway with several replicas one GET may land on a replica
                    # that never had the fault: only consecutive absences count as a cure.
                    info["first_absent"] = info.get("first_absent") or time.time()
                    info["absent"] = info.get("absent", 0) + 1
                    if info["absent"] >= CURE_CONFIRMATIONS:
                        info["cured_at"] = info["first_absent"]
                        ui.info(f"[green]{service}: fault {info['id']} is gone (restarted)[/]")
                if all(i["cured_at"] for i in faults.values()):
                    cured_all_at = cured_all_at or time.monotonic()
                    if time.monotonic() - cured_all_at >= settle_s:
                        traffic_stop.set()
                        return
                if await sleep_or_stop(stop, poll_s):
                    return

        async def relay_stop() -> None:
            await stop.wait()
            traffic_stop.set()

        watcher = asyncio.create_task(watch.run(stop, end))
        curer = asyncio.create_task(cure_watch())
        relay = asyncio.create_task(relay_stop())
        try:
            summaries, total, elapsed = await run_phases(
                clients, [phase], ui, traffic_stop, seed=seed
            )
        finally:
            for task in (watcher, curer, relay):
                task.cancel()
            await asyncio.gather(watcher, curer, relay, return_exceptions=True)
        await watch.poll_once()
    finally:
        cleared = await clear_injected(clients, injected, ui)
    fault_rows = []
    for service, info in faults.items():
        fault_rows.append(
            {
                "service": service,
                "fault_id": info["id"],
                "kind": fault["kind"],
                "cured": info["cured_at"] is not None,
                "cured_after_s": round(info["cured_at"] - info["injected_at"], 2)
                if info["cured_at"]
                else None,
                "cleared_by_cli": info["id"] in cleared,
            }
        )
    return {
        "command": "chaos",
        "started_at": round(t0, 3),
        "interrupted": stop.is_set(),
        "fault": fault,
        "faults": fault_rows,
        "traffic": total.summary(elapsed),
        "phases": {**baseline, **summaries},
        "baselines": baselines_state,
        "platform": watch.report(),
    }


# ---------------------------------------------------------------- scenario (closed loop)


@dataclass(frozen=True)
class ScenarioOptions:
    warmup_timeout_s: float = 180.0
    detect_timeout_s: float = 90.0
    act_timeout_s: float = 60.0
    recover_timeout_s: float = 120.0
    expect_dry_run: bool = False
    poll_s: float = 1.0
    # Wait at most this long for a closing policy's cooldown before injecting; 0: do not wait.
    cooldown_timeout_s: float = 330.0


async def _check_platform(
    clients: Clients, scenario: Scenario, opts: ScenarioOptions, ui: Ui
) -> float:
    """Abort if the loop cannot close; warn about what may stop it. Returns the seconds until
    a policy that could close the loop is out of its cooldown (0: one is ready)."""
    await clients.anomaly.get_json("/health", timeout_s=3.0)
    status = await clients.policy.status()
    if status.get("enabled") is False:
        raise ScenarioAbort("remediation is paused on the policy engine (POST /toggle to resume)")
    dry = bool(status.get("dry_run"))
    if dry and not opts.expect_dry_run:
        raise ScenarioAbort(
            "the policy engine is in dry-run: its actions change nothing, so the loop cannot "
            "close; pass --expect-dry-run to accept a dry_run action record as 'act'"
        )
    if not dry and opts.expect_dry_run:
        raise ScenarioAbort(
            "--expect-dry-run given but the policy engine acts for real (dry_run is false): "
            "drop the flag, or set DRY_RUN=true on the engine"
        )
    try:
        body = await clients.policy.get_json("/policies")
        items = body.get("items", []) if isinstance(body, dict) else []
        reads_metric = re.compile(rf"\b{re.escape(scenario.metric)}\b")
        closing = [
            p
            for p in items
            if p.get("service") in (scenario.service, None, "*")
            and p.get("action") in scenario.actions
            and p.get("enabled", True)
            # an error-rate restart does not answer a latency fault
            and (not p.get("condition") or reads_metric.search(str(p["condition"])))
        ]
        if not closing:
            ui.warn(
                f"no enabled policy does {'/'.join(scenario.actions)} on {scenario.service} "
                f"on {scenario.metric}; the loop will probably not close"
            )
        elif all(float(p.get("cooldown_remaining_s") or 0) > 0 for p in closing):
            wait = min(float(p.get("cooldown_remaining_s") or 0) for p in closing)
            ui.warn(
                f"{', '.join(str(p.get('name')) for p in closing)} cooling down for "
                f"{wait:.0f}s more: an action now would be skipped, so the fault waits"
            )
            return wait
    except (ApiError, ValueError) as exc:
        ui.warn(f"could not list policies: {exc}")
    return 0.0


class ScenarioAbort(Exception):
    """The scenario cannot run (platform paused, wrong mode, never warmed up)."""


async def _wait_warm(
    clients: Clients, scenario: Scenario, opts: ScenarioOptions, stop: asyncio.Event
) -> None:
    """Wait until the scenario's series is scored (out of warm-up) and has no open anomaly."""
    deadline = time.monotonic() + opts.warmup_timeout_s
    last = "no series yet"
    while time.monotonic() < deadline:
        try:
            predict = await clients.anomaly.predict()
            series = [
                s
                for s in predict.get("series", [])
                if s.get("service") == scenario.service and s.get("metric") == scenario.metric
            ]
            active = active_anomalies(
                await clients.anomaly.anomalies(
                    service=scenario.service, metric=scenario.metric, status="active"
                ),
                scenario.service,
                scenario.metric,
            )
            if not series:
                last = f"no {scenario.service}/{scenario.metric} series in /predict yet"
            elif any(s.get("warming_up") for s in series):
                last = f"{scenario.service}/{scenario.metric} baseline still warming up"
            elif active:
                last = f"anomaly {active[0]} already open on {scenario.service}/{scenario.metric}"
            else:
                return
        except (TargetUnreachable, ApiError) as exc:
            last = str(exc)
        if await sleep_or_stop(stop, opts.poll_s):
            raise ScenarioAbort("interrupted during warm-up")
    raise ScenarioAbort(f"not ready to start after {opts.warmup_timeout_s:g}s: {last}")


async def _poll_until(
    stop: asyncio.Event,
    timeout_s: float,
    poll_s: float,
    check: Callable[[], Any],
) -> Any:
    """Call async `check()` until it returns a truthy value, the timeout, or a stop."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = await check()
        except (TargetUnreachable, ApiError):
            found = None  # a component restarting mid-scenario is retried until the deadline
        if found:
            return found
        if await sleep_or_stop(stop, poll_s):
            return None
    return None


async def run_scenario(
    clients: Clients,
    ui: Ui,
    stop: asyncio.Event,
    scenario: Scenario,
    opts: ScenarioOptions,
    background: Phase,
    overload: Phase | None,
) -> dict[str, Any]:
    """Inject, then watch detect -> act -> recover, each phase under its own timeout. Traffic
    runs throughout; whatever happens, the faults injected here are cleared at the end."""
    await preflight(clients, list(clients.services))
    cooling_s = await _check_platform(clients, scenario, opts, ui)
    if opts.cooldown_timeout_s == 0:
        cooling_s = 0.0  # asked not to wait: the act phase may see `skipped: cooldown`
    elif cooling_s > opts.cooldown_timeout_s:
        raise ScenarioAbort(
            f"the policies that could close the loop cool down for {cooling_s:.0f}s more, "
            f"longer than --cooldown-timeout ({opts.cooldown_timeout_s:g}s)"
        )

    traffic_stop = asyncio.Event()
    overload_stop = asyncio.Event()
    traffic: dict[str, Any] = {}

    async def drive(phase: Phase, own_stop: asyncio.Event) -> None:
        # No bar: the traffic's planned length is only an upper bound on the scenario.
        _, total, elapsed = await run_phases(clients, [phase], ui, own_stop, show_progress=False)
        traffic[phase.name] = total.summary(elapsed)

    async def relay() -> None:
        await stop.wait()
        traffic_stop.set()
        overload_stop.set()

    relay_task = asyncio.create_task(relay())
    tasks = [asyncio.create_task(drive(background, traffic_stop))]
    injected: list[tuple[str, str]] = []
    timeline: Timeline | None = None
    try:
        if cooling_s > 0 and await sleep_or_stop(stop, cooling_s + 1.0):
            raise ScenarioAbort("interrupted while waiting out the cooldown")
        ui.info(f"warming up: waiting for a scored {scenario.service}/{scenario.metric} series")
        await _wait_warm(clients, scenario, opts, stop)
        timeline = Timeline(
            scenario.name, scenario.service, scenario.metric, time.time(), opts.expect_dry_run
        )
        if scenario.fault is not None:
            record = await clients.service(scenario.service).inject(scenario.fault)
            injected.append((scenario.service, str(record["id"])))
            ui.info(f"injected {scenario.fault['kind']} on {scenario.service}: {record['id']}")
        if overload is not None:
            ui.info(f"overloading {scenario.service} ({overload.plan.concurrency} concurrent)")
            tasks.append(asyncio.create_task(drive(overload, overload_stop)))
        await _watch_loop(
            clients,
            ui,
            stop,
            scenario,
            opts,
            timeline,
            injected,
            overload_stop,
            overload is not None,
        )
    finally:
        traffic_stop.set()
        overload_stop.set()
        _, pending = await asyncio.wait(tasks, timeout=15.0)
        for task in pending:
            task.cancel()
        relay_task.cancel()
        await asyncio.gather(relay_task, *tasks, return_exceptions=True)
        await clear_injected(clients, injected, ui)
    assert timeline is not None  # set before anything that can return normally
    if stop.is_set() and not timeline.closed:
        timeline.failed_phase = "interrupted"
        timeline.message = "interrupted by the user"
    report = timeline.to_dict()
    report["fault"] = scenario.fault
    report["traffic"] = traffic
    return report


async def _watch_loop(
    clients: Clients,
    ui: Ui,
    stop: asyncio.Event,
    scenario: Scenario,
    opts: ScenarioOptions,
    tl: Timeline,
    injected: list[tuple[str, str]],
    overload_stop: asyncio.Event,
    overloaded: bool,
) -> None:
    """Fill `tl` phase by phase; the first phase to time out is recorded and ends the watch."""
    # Queries reach back a second (cheap insurance against rounding); matches do not: nothing
    # that happened before the injection can be caused by it.
    since = tl.injected_at - 1.0
    t0 = tl.injected_at

    async def detected() -> dict[str, Any] | None:
        found = await clients.anomaly.anomalies(
            service=scenario.service, metric=scenario.metric, since=since
        )
        return match_anomaly(found, scenario.service, scenario.metric, t0)

    anomaly = await _poll_until(stop, opts.detect_timeout_s, opts.poll_s, detected)
    if not anomaly:
        tl.failed_phase = "detect"
        tl.message = (
            f"no {scenario.metric} anomaly on {scenario.service} within {opts.detect_timeout_s:g}s"
        )
        return
    tl.anomaly = anomaly
    tl.detected_at = float(anomaly.get("opened_at") or time.time())
    ui.info(
        f"detected after {tl.after(tl.detected_at)}s: {anomaly.get('summary') or anomaly.get('id')}"
    )

    async def acted() -> dict[str, Any] | None:
        records = await clients.policy.actions(service=scenario.service, since=since)
        action, others = match_action(
            records, scenario.service, scenario.actions, t0, opts.expect_dry_run
        )
        tl.other_actions = others
        return action

    action = await _poll_until(stop, opts.act_timeout_s, opts.poll_s, acted)
    if not action:
        tl.failed_phase = "act"
        seen = sorted(
            {f"{a.get('action')}:{a.get('outcome')}:{a.get('reason')}" for a in tl.other_actions}
        )
        tl.message = (
            f"no {'/'.join(scenario.actions)} on {scenario.service} within "
            f"{opts.act_timeout_s:g}s of detection"
            + (f" (seen: {', '.join(seen)})" if seen else "")
        )
        return
    tl.action = action
    tl.acted_at = float(action.get("created_at") or time.time())
    ui.info(
        f"acted after {tl.after(tl.acted_at)}s: {action.get('action')} ({action.get('outcome')})"
    )

    # What ends the fault: a real restart ends process state; in dry-run nothing was done, so
    # the CLI ends it itself and measures the signal's own return to normal.
    if overloaded:
        overload_stop.set()
        tl.recovered_via = "overload stopped after the action"
    elif opts.expect_dry_run:
        await clear_injected(clients, injected, ui)
        tl.recovered_via = "fault cleared by the CLI (dry-run: nothing was restarted)"
    else:
        tl.recovered_via = "remediation"
    anomaly_id = str(anomaly.get("id"))

    async def recovered() -> float | None:
        # Only a remediation can end the fault on its own; the CLI's clear does not count.
        if tl.recovered_via == "remediation" and injected and tl.fault_gone_at is None:
            service, fault_id = injected[0]
            with contextlib.suppress(TargetUnreachable, ApiError):
                ids = {str(f.get("id")) for f in await clients.service(service).faults()}
                if fault_id not in ids:
                    tl.fault_gone_at = time.time()
        body = await clients.anomaly.get_json(f"/anomalies/{anomaly_id}")
        if isinstance(body, dict) and body.get("status") == "resolved":
            return float(body.get("resolved_at") or time.time())
        return None

    resolved_at = await _poll_until(stop, opts.recover_timeout_s, opts.poll_s, recovered)
    if not resolved_at:
        tl.failed_phase = "recover"
        tl.message = f"anomaly {anomaly_id} still open {opts.recover_timeout_s:g}s after the action"
        return
    tl.recovered_at = resolved_at
    tl.message = "loop closed: detected, acted, recovered"
