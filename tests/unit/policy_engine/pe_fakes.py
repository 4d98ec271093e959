"""Test doubles for the policy engine: an in-memory Actuator, clock, snapshot source, notifier."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from policy_engine.actuator.calls import ActionFailed
from policy_engine.actuator.types import (
    ActionOutcome,
    ContainerChange,
    ContainerInfo,
    RestartParams,
    ScaleParams,
)
from policy_engine.app import create_app
from policy_engine.config import Settings
from policy_engine.engine import Engine
from policy_engine.metrics import EngineMetrics
from policy_engine.models import AMWebhook
from policy_engine.snapshot import Series, Snapshot, SnapshotClient
from policy_engine.store import Store


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeActuator:
    """Implements the Actuator protocol over a list of fake replicas; records every call."""

    def __init__(self, clock: FakeClock, replicas: dict[str, int] | None = None) -> None:
        self.clock = clock
        self.calls: list[tuple[str, Any]] = []
        self.status: str = "succeeded"
        self.hang = False
        self.hang_actions = False  # only restart/scale hang (the daemon answers lists)
        self.reachable = True
        self.containers: dict[str, list[ContainerInfo]] = {}
        self.events: list[tuple[str, ContainerChange]] = []  # (service, change)
        for service, count in (replicas or {"orders": 1, "users": 1, "payments": 1}).items():
            self.containers[service] = [
                self._info(service, n, clock.now - 3600) for n in range(1, count + 1)
            ]

    @staticmethod
    def _info(service: str, number: int, started: float, state: str = "running") -> ContainerInfo:
        return ContainerInfo(
            id=f"{service}{number:02d}" * 4,
            name=f"relia-{service}-{number}",
            service=service,
            number=number,
            state=state,
            health="healthy",
            started_at=started,
            created_at=started,
        )

    async def changes(self, service: str, since: float, until: float) -> list[ContainerChange]:
        if not self.reachable:
            raise ActionFailed("Docker daemon unreachable (events): fake")
        return [c for s, c in self.events if s == service and since <= c.at <= until]

    async def _maybe_hang(self) -> None:
        if self.hang:
            await asyncio.sleep(3600)

    async def restart(self, params: RestartParams) -> ActionOutcome:
        self.calls.append(("restart", params))
        await self._maybe_hang()
        if self.hang_actions:
            await asyncio.sleep(3600)
        names = [
            c.name
            for c in self.containers.get(params.service, [])
            if params.container in (None, c.name)
        ]
        return ActionOutcome(
            status=self.status,
            targets=names,
            detail=f"restarted {names}",  # type: ignore[arg-type]
            error="boom" if self.status == "failed" else None,
            duration_ms=5.0,
        )

    async def scale(self, params: ScaleParams) -> ActionOutcome:
        self.calls.append(("scale", params))
        await self._maybe_hang()
        current = self.containers.get(params.service, [])
        before = len(current)
        if params.direction == "up":
            after = min(params.max_replicas, before + params.step)
            for n in range(before + 1, after + 1):
                current.append(self._info(params.service, n, self.clock.now))
        else:
            after = max(params.min_replicas, before - params.step)
            del current[after:]
        return ActionOutcome(
            status=self.status,
            targets=[params.service],
            detail="scaled",  # type: ignore[arg-type]
            replicas_before=before,
            replicas_after=after,
            duration_ms=7.0,
        )

    async def list_targets(self, service: str) -> list[ContainerInfo]:
        self.calls.append(("list", service))
        await self._maybe_hang()
        return list(self.containers.get(service, []))

    async def ping(self) -> bool:
        await self._maybe_hang()
        return self.reachable


class FakeSnapshots(SnapshotClient):
    """A snapshot source the test sets directly."""

    def __init__(self) -> None:
        super().__init__(None)
        self.series: list[Series] = []
        self.cycle_at: float | None = None  # the anomaly-service cycle the series are from
        self.fetches = 0

    def set(self, *series: Series, cycle_at: float | None = None) -> None:
        self.series = list(series)
        self.cycle_at = cycle_at

    async def fetch(self, now: float) -> Snapshot | None:
        self.fetches += 1
        return Snapshot(now, tuple(self.series), self.cycle_at)


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.status = "succeeded"

    async def send(self, url: str, payload: dict[str, Any]) -> ActionOutcome:
        self.sent.append((url, payload))
        return ActionOutcome(
            status=self.status,
            targets=[url],
            detail="HTTP 200",  # type: ignore[arg-type]
            duration_ms=1.0,
        )

    async def aclose(self) -> None:
        return None


def series(
    service: str,
    metric: str,
    value: float | None,
    severity: str = "normal",
    kind: str | None = None,
    anomaly_id: str | None = None,
) -> Series:
    return Series(service, metric, value, severity, kind, anomaly_id)


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "policies_file": Path("/nonexistent/policies.yml"),
        "state_dir": Path("/nonexistent"),
        "check_interval": 1.0,
        "docker_timeout_s": 2.0,
        "action_timeout_s": 2.0,
        "grace_period_s": 30.0,
        "verification_window_s": 60.0,
    }
    base.update(overrides)
    return Settings(**base)


def make_engine(
    policies: str,
    *,
    clock: FakeClock | None = None,
    store: Store | None = None,
    actuator: FakeActuator | None = None,
    alertmanager: Any = None,
    **overrides: Any,
) -> Engine:
    clock = clock or FakeClock()
    engine = Engine(
        settings(**overrides),
        store or Store(Path(":memory:")),
        actuator or FakeActuator(clock),
        FakeSnapshots(),
        FakeNotifier(),
        EngineMetrics(),
        clock=clock,  # type: ignore[arg-type]
        alertmanager=alertmanager,
    )
    engine.start()
    engine.apply(policies.encode())
    assert engine.policies.valid, engine.policies.errors
    return engine


def alert(
    status: str = "firing",
    *,
    service: str = "orders",
    metric: str = "latency",
    severity: str = "warning",
    value: str = "0.9",
    fingerprint: str = "fp1",
    anomaly_id: str = "a-1",
    kind: str = "deviation",
    starts_at: str = "2026-11-21T19:40:00Z",
) -> dict[str, Any]:
    """One Alertmanager v4 notification the way the anomaly service sends it."""
    labels = {
        "alertname": "ReliaAnomaly",
        "service": service,
        "metric": metric,
        "severity": severity,
        "kind": kind,
        "anomaly_id": anomaly_id,
    }
    one = {
        "status": status,
        "labels": labels,
        "annotations": {"value": value},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://anomaly:8080/anomalies/a-1",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f"relia:{fingerprint}",
        "status": status,
        "receiver": "relia-policy-engine",
        "groupLabels": {},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://anomaly:8080",
        "truncatedAlerts": 0,
        "alerts": [one],
    }


async def engine_seeing(policies: str, row: Series) -> Engine:
    """An engine with these policies whose last cycle read a snapshot of this one series."""
    engine = make_engine(policies)
    snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
    snaps.set(row)
    await engine.cycle()
    return engine


def scheduled_for(policies: str, row: Series, body: dict[str, Any]) -> int:
    """How many actions one webhook delivery schedules, the snapshot showing `row`."""

    async def go() -> int:
        engine = await engine_seeing(policies, row)
        summary = engine.handle_webhook(AMWebhook.model_validate(body), engine.clock())
        await engine.drain(5.0)
        return len(summary["scheduled"])

    return asyncio.run(go())


def fake_app(
    *, clock: FakeClock | None = None, alertmanager: Any = None, **overrides: Any
) -> FastAPI:
    """The engine's app from its factory with every adapter a test double, the loop off."""
    clock = clock or FakeClock()
    return create_app(
        settings(**overrides),
        FakeActuator(clock),
        store=Store(Path(":memory:")),
        snapshots=FakeSnapshots(),
        notifier=FakeNotifier(),  # type: ignore[arg-type]
        clock=clock,
        run_loop=False,
        alertmanager=alertmanager,
    )
