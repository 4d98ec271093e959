"""`chaos scenario`: check the platform can close the loop, wait for a learned baseline, inject,
then watch detect -> act -> recover, each under its own timeout. Traffic runs throughout;
whatever happens, the faults injected here are cleared at the end. The pure matching rules
are in scenario.py, the watching of the three phases in loop_watch.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chaos_simulator.client import ApiError, PlatformClient
from chaos_simulator.loop_watch import LoopWatch
from chaos_simulator.phases import BackgroundTraffic, Phase, preflight, sleep_or_stop
from chaos_simulator.render import Ui
from chaos_simulator.scenario import (
    Scenario,
    ScenarioAbort,
    ScenarioOptions,
    active_anomalies,
    check_mode,
    closing_policies,
    cooldown_left,
    warm_series,
)
from chaos_simulator.targets import TargetUnreachable
from chaos_simulator.timeline import Timeline
from chaos_simulator.watch import clear_injected


async def _check_platform(
    clients: PlatformClient, scenario: Scenario, opts: ScenarioOptions, ui: Ui
) -> float:
    """Abort if the loop cannot close; warn about what may stop it. Returns the seconds until
    a policy that could close the loop is out of its cooldown (0: one is ready)."""
    await clients.anomaly.health(timeout_s=3.0)
    engine = await clients.policy.status()
    check_mode(engine.enabled, engine.dry_run, opts)
    try:
        closing = closing_policies(await clients.policy.policies(), scenario)
    except (ApiError, ValueError) as exc:
        ui.warn(f"could not list policies: {exc}")
        return 0.0
    if not closing:
        ui.warn(
            f"no enabled policy does {'/'.join(scenario.actions)} on {scenario.service} "
            f"on {scenario.metric}; the loop will probably not close"
        )
    elif all(cooldown_left(p) > 0 for p in closing):
        wait = min(cooldown_left(p) for p in closing)
        ui.warn(
            f"{', '.join(str(p.get('name')) for p in closing)} cooling down for "
            f"{wait:.0f}s more: an action now would be skipped, so the fault waits"
        )
        return wait
    return 0.0


async def _not_warm_because(clients: PlatformClient, scenario: Scenario) -> str | None:
    """Why the scenario's series is not ready for a fault yet (None: it is)."""
    where = f"{scenario.service}/{scenario.metric}"
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
        return f"no {where} series in /predict yet"
    if (scenario.service, scenario.metric) not in warm_series(series):
        return f"{where} baseline still warming up"
    if active:
        return f"anomaly {active[0]} already open on {where}"
    return None


async def _wait_warm(
    clients: PlatformClient, scenario: Scenario, opts: ScenarioOptions, stop: asyncio.Event
) -> None:
    """Wait until the scenario's series is scored (out of warm-up) and has no open anomaly."""
    deadline = time.monotonic() + opts.warmup_timeout_s
    last = "no series yet"
    while time.monotonic() < deadline:
        try:
            reason = await _not_warm_because(clients, scenario)
        except (TargetUnreachable, ApiError) as exc:
            reason = str(exc)
        if reason is None:
            return
        last = reason
        if await sleep_or_stop(stop, opts.poll_s):
            raise ScenarioAbort("interrupted during warm-up")
    raise ScenarioAbort(f"not ready to start after {opts.warmup_timeout_s:g}s: {last}")


async def _cooldown_wait(
    clients: PlatformClient, scenario: Scenario, opts: ScenarioOptions, ui: Ui
) -> float:
    """Seconds to wait for a closing policy's cooldown before injecting, or ScenarioAbort."""
    cooling_s = await _check_platform(clients, scenario, opts, ui)
    if opts.cooldown_timeout_s == 0:
        return 0.0  # asked not to wait: the act phase may see `skipped: cooldown`
    if cooling_s > opts.cooldown_timeout_s:
        raise ScenarioAbort(
            f"the policies that could close the loop cool down for {cooling_s:.0f}s more, "
            f"longer than --cooldown-timeout ({opts.cooldown_timeout_s:g}s)"
        )
    return cooling_s


async def run_scenario(
    clients: PlatformClient,
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
    cooling_s = await _cooldown_wait(clients, scenario, opts, ui)
    traffic = BackgroundTraffic(clients, ui)
    traffic.start(background)
    relay_task = asyncio.create_task(traffic.relay(stop))
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
            injected.append((scenario.service, record.id))
            ui.info(f"injected {scenario.fault['kind']} on {scenario.service}: {record.id}")
        overload_stop = None
        if overload is not None:
            ui.info(f"overloading {scenario.service} ({overload.plan.concurrency} concurrent)")
            overload_stop = traffic.start(overload)
        watcher = LoopWatch(clients, ui, stop, scenario, opts, timeline, injected, overload_stop)
        await watcher.run()
    finally:
        await traffic.wait()
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        await clear_injected(clients, injected, ui)
    assert timeline is not None  # set before anything that can return normally
    if stop.is_set() and not timeline.closed:
        timeline.failed_phase = "interrupted"
        timeline.message = "interrupted by the user"
    report = timeline.to_dict()
    report["fault"] = scenario.fault
    report["traffic"] = traffic.summaries
    return report
