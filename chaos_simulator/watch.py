"""Watching the platform: the anomalies and actions recorded on some services, the faults a run
injected (gone after a restart, cleared at the end), and polling with a deadline. A component
that does not answer is retried or reported, never fatal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chaos_simulator.client import ApiError, PlatformClient
from chaos_simulator.phases import sleep_or_stop
from chaos_simulator.render import Ui
from chaos_simulator.targets import TargetUnreachable

T = TypeVar("T")

ANOMALY_FIELDS = (
    "id",
    "service",
    "metric",
    "severity",
    "status",
    "opened_at",
    "resolved_at",
    "summary",
)
ACTION_FIELDS = (
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
# Behind a gateway with several replicas one GET may land on a replica that never had the
# fault: only this many absences in a row count as a cure.
CURE_CONFIRMATIONS = 3


@dataclass
class PlatformWatch:
    """Polls the anomaly service and the policy engine for events on some services; a
    component that does not answer is reported, never fatal (traffic commands work without)."""

    clients: PlatformClient
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
        anomalies = sorted(self.anomalies.values(), key=lambda a: a.get("opened_at") or 0)
        actions = sorted(self.actions.values(), key=lambda a: a.get("created_at") or 0)
        return {
            "services": list(self.services),
            "unreachable": sorted(self.unreachable),
            "anomalies": [{k: a.get(k) for k in ANOMALY_FIELDS} for a in anomalies],
            "actions": [{k: a.get(k) for k in ACTION_FIELDS} for a in actions],
        }


async def poll_until(
    stop: asyncio.Event,
    timeout_s: float,
    poll_s: float,
    check: Callable[[], Awaitable[T | None]],
) -> T | None:
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


async def clear_injected(
    clients: PlatformClient, injected: list[tuple[str, str]], ui: Ui
) -> list[str]:
    """Delete exactly the faults this run injected; returns the ids actually removed."""
    removed: list[str] = []
    for service, fault_id in injected:
        try:
            if await clients.service(service).clear(fault_id):
                removed.append(fault_id)
        except (TargetUnreachable, ApiError) as exc:
            ui.warn(f"could not clear fault {fault_id} on {service}: {exc}")
    return removed


@dataclass
class InjectedFault:
    """A fault this run injected, and when it was last seen gone from its service."""

    service: str
    fault_id: str
    injected_at: float
    cured_at: float | None = None
    first_absent: float | None = None
    absent: int = 0

    def seen(self, present: bool, now: float) -> bool:
        """Record one observation; True when this one confirms the cure."""
        if present:
            self.first_absent, self.absent = None, 0
            return False
        self.first_absent = self.first_absent or now
        self.absent += 1
        if self.absent < CURE_CONFIRMATIONS:
            return False
        self.cured_at = self.first_absent
        return True


@dataclass
class CureWatch:
    """Polls the services' fault lists until every injected fault is gone (a restart cured
    it), then lets traffic run `settle_s` more before setting `done`."""

    clients: PlatformClient
    ui: Ui
    faults: dict[str, InjectedFault]
    settle_s: float
    poll_s: float = 1.0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def check_once(self) -> None:
        for fault in self.faults.values():
            if fault.cured_at is not None:
                continue
            try:
                listed = await self.clients.service(fault.service).faults()
            except (TargetUnreachable, ApiError):
                continue  # a restarting service does not answer for a moment
            present = fault.fault_id in {f.id for f in listed}
            if fault.seen(present, time.time()):
                self.ui.info(
                    f"[green]{fault.service}: fault {fault.fault_id} is gone (restarted)[/]"
                )

    async def run(self, stop: asyncio.Event, deadline: float) -> None:
        cured_all_at: float | None = None
        while time.monotonic() < deadline and not stop.is_set():
            await self.check_once()
            if all(f.cured_at for f in self.faults.values()):
                cured_all_at = cured_all_at or time.monotonic()
                if time.monotonic() - cured_all_at >= self.settle_s:
                    self.done.set()
                    return
            if await sleep_or_stop(stop, self.poll_s):
                return
