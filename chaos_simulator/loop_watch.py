"""Watching one injected fault's loop close: detect -> act -> recover, each phase timed out."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from chaos_simulator.client import ApiError, PlatformClient
from chaos_simulator.render import Ui
from chaos_simulator.scenario import Scenario, ScenarioOptions, match_action, match_anomaly
from chaos_simulator.targets import TargetUnreachable
from chaos_simulator.timeline import SETTLED_S, Settling, Timeline
from chaos_simulator.watch import clear_injected, poll_until


async def plan_says(clients: PlatformClient, service: str) -> str:
    """The engine's own answer to "why nothing?": its plan's summary for the service."""
    try:
        planned = await clients.policy.plan(service)
    except (TargetUnreachable, ApiError) as exc:
        return f"; the engine's plan could not be read: {exc}"
    return f"; the engine's plan now: {planned.get('summary')}"


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
