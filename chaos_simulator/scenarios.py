"""`chaos scenario`: check the platform can close the loop, wait for a learned baseline, inject,
then watch detect -> act -> recover, each under its own timeout. Traffic runs throughout;
whatever happens, the faults injected here are cleared at the end. The pure matching rules
are in scenario.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from chaos_simulator.client import ApiError, PlatformClient
from chaos_simulator.phases import BackgroundTraffic, Phase, preflight, sleep_or_stop
from chaos_simulator.render import Ui
from chaos_simulator.scenario import (
    SETTLED_S,
    Scenario,
    ScenarioAbort,
    ScenarioOptions,
    Settling,
    Timeline,
    active_anomalies,
    check_mode,
    closing_policies,
    match_action,
    match_anomaly,
)
from chaos_simulator.targets import TargetUnreachable
from chaos_simulator.watch import clear_injected, poll_until


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
    elif all(float(p.get("cooldown_remaining_s") or 0) > 0 for p in closing):
        wait = min(float(p.get("cooldown_remaining_s") or 0) for p in closing)
        ui.warn(
            f"{', '.join(str(p.get('name')) for p in closing)} cooling down for "
            f"{wait:.0f}s more: an action now would be skipped, so the fault waits"
        )
        return wait
    return 0.0


async def plan_says(clients: PlatformClient, service: str) -> str:
    """The engine's own answer to "why nothing?": its plan's summary for the service."""
    try:
        planned = await clients.policy.plan(service)
    except (TargetUnreachable, ApiError) as exc:
        return f"; the engine's plan could not be read: {exc}"
    return f"; the engine's plan now: {planned.get('summary')}"


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
    if any(s.get("warming_up") for s in series):
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


@dataclass
class LoopWatch:
    """Fills a timeline phase by phase; the first phase to time out is recorded and ends it.
    Queries reach back a second (cheap insurance against rounding); matches do not: nothing
    that happened before the injection can be caused by it."""

    clients: PlatformClient
    ui: Ui
    stop: asyncio.Event
    scenario: Scenario
    opts: ScenarioOptions
    tl: Timeline
    injected: list[tuple[str, str]]
    overload_stop: asyncio.Event | None

    async def _poll(self, timeout_s: float, check: Any) -> Any:
        return await poll_until(self.stop, timeout_s, self.opts.poll_s, check)

    async def run(self) -> None:
        anomaly = await self.detect()
        if anomaly is None or not await self.act():
            return
        await self.recover(str(anomaly.get("id")))

    async def detect(self) -> dict[str, Any] | None:
        sc, tl = self.scenario, self.tl

        async def detected() -> dict[str, Any] | None:
            found = await self.clients.anomaly.anomalies(
                service=sc.service, metric=sc.metric, since=tl.injected_at - 1.0
            )
            return match_anomaly(found, sc.service, sc.metric, tl.injected_at)

        anomaly: dict[str, Any] | None = await self._poll(self.opts.detect_timeout_s, detected)
        if not anomaly:
            tl.failed_phase = "detect"
            tl.message = (
                f"no {sc.metric} anomaly on {sc.service} within {self.opts.detect_timeout_s:g}s"
            )
            return None
        tl.anomaly = anomaly
        tl.detected_at = float(anomaly.get("opened_at") or time.time())
        summary = anomaly.get("summary") or anomaly.get("id")
        self.ui.info(f"detected after {tl.after(tl.detected_at)}s: {summary}")
        return anomaly

    async def act(self) -> bool:
        sc, tl, opts = self.scenario, self.tl, self.opts

        async def acted() -> dict[str, Any] | None:
            records = await self.clients.policy.actions(
                service=sc.service, since=tl.injected_at - 1.0
            )
            action, others = match_action(
                records, sc.service, sc.actions, tl.injected_at, opts.expect_dry_run
            )
            tl.other_actions = others
            return action

        action: dict[str, Any] | None = await self._poll(opts.act_timeout_s, acted)
        if not action:
            tl.failed_phase = "act"
            seen = sorted(
                {
                    f"{a.get('action')}:{a.get('outcome')}:{a.get('reason')}"
                    for a in tl.other_actions
                }
            )
            tl.message = (
                f"no {'/'.join(sc.actions)} on {sc.service} within "
                f"{opts.act_timeout_s:g}s of detection"
                + (f" (seen: {', '.join(seen)})" if seen else "")
                + await plan_says(self.clients, sc.service)
            )
            return False
        tl.action = action
        tl.acted_at = float(action.get("created_at") or time.time())
        self.ui.info(
            f"acted after {tl.after(tl.acted_at)}s: {action.get('action')} "
            f"({action.get('outcome')})"
        )
        return True

    async def _end_fault(self) -> None:
        """What ends the fault: a real restart ends process state; in dry-run nothing was done,
        so the CLI ends it itself and measures the signal's own return to normal."""
        if self.overload_stop is not None:
            self.overload_stop.set()
            self.tl.recovered_via = "overload stopped after the action"
        elif self.opts.expect_dry_run:
            await clear_injected(self.clients, self.injected, self.ui)
            self.tl.recovered_via = "fault cleared by the CLI (dry-run: nothing was restarted)"
        else:
            self.tl.recovered_via = "remediation"

    async def _note_fault_gone(self) -> None:
        # Only a remediation can end the fault on its own; the CLI's clear does not count.
        tl = self.tl
        if tl.recovered_via != "remediation" or not self.injected or tl.fault_gone_at is not None:
            return
        service, fault_id = self.injected[0]
        with contextlib.suppress(TargetUnreachable, ApiError):
            ids = {f.id for f in await self.clients.service(service).faults()}
            if fault_id not in ids:
                tl.fault_gone_at = time.time()

    async def recover(self, anomaly_id: str) -> None:
        await self._end_fault()
        settling = Settling()

        async def recovered() -> float | None:
            await self._note_fault_gone()
            body = await self.clients.anomaly.anomaly(anomaly_id)
            if body.get("status") == "resolved":
                return float(body.get("resolved_at") or time.time())
            since = settling.see(str(body.get("severity")), time.time())
            if since is not None:
                self.tl.recovered_via = (self.tl.recovered_via or "") + (
                    f"; the anomaly stayed below warning for {SETTLED_S:g} s "
                    "(info: still above its band)"
                )
            return since

        resolved_at: float | None = await self._poll(self.opts.recover_timeout_s, recovered)
        if not resolved_at:
            self.tl.failed_phase = "recover"
            self.tl.message = (
                f"anomaly {anomaly_id} still open {self.opts.recover_timeout_s:g}s after the action"
            )
            return
        self.tl.recovered_at = resolved_at
        self.tl.message = "loop closed: detected, acted, recovered"
