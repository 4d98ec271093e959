"""`chaos chaos`: restart-curable faults injected under traffic, each watched until a restart
cures it. Whatever happens, the faults this run injected are cleared at the end."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chaos_simulator.client import PlatformClient
from chaos_simulator.phases import Phase, learned_state, preflight, run_phases
from chaos_simulator.render import Ui
from chaos_simulator.watch import CureWatch, InjectedFault, PlatformWatch, clear_injected


async def _learn(
    clients: PlatformClient, ui: Ui, stop: asyncio.Event, learn: Phase | None, seed: int | None
) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Normal traffic until the platform knows the services' normal (the phase's summary and
    how learning ended), or nothing without a learning phase."""
    if learn is None:
        return {}, None
    baseline, _, _ = await run_phases(clients, [learn], ui, stop, seed=seed)
    # Already learned: the phase ended before its first request; no empty row.
    baseline = {name: row for name, row in baseline.items() if row.get("requests")}
    return baseline, learned_state([learn], ui)


def _fault_rows(
    faults: dict[str, InjectedFault], kind: str, cleared: list[str]
) -> list[dict[str, Any]]:
    return [
        {
            "service": service,
            "fault_id": f.fault_id,
            "kind": kind,
            "cured": f.cured_at is not None,
            "cured_after_s": round(f.cured_at - f.injected_at, 2) if f.cured_at else None,
            "cleared_by_cli": f.fault_id in cleared,
        }
        for service, f in faults.items()
    ]


async def _traffic_until_cured(
    clients: PlatformClient,
    ui: Ui,
    stop: asyncio.Event,
    phase: Phase,
    cures: CureWatch,
    watch: PlatformWatch,
    seed: int | None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The chaos phase's traffic, ended by its duration, a stop, or the cures having settled;
    the platform watch runs beside it."""
    end = time.monotonic() + phase.plan.duration_s
    traffic_stop = cures.done

    async def relay_stop() -> None:
        await stop.wait()
        traffic_stop.set()

    tasks = [
        asyncio.create_task(watch.run(stop, end)),
        asyncio.create_task(cures.run(stop, end)),
        asyncio.create_task(relay_stop()),
    ]
    try:
        summaries, total, elapsed = await run_phases(clients, [phase], ui, traffic_stop, seed=seed)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await watch.poll_once()
    return summaries, total.summary(elapsed)


async def run_chaos(
    clients: PlatformClient,
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
    baseline, baselines_state = await _learn(clients, ui, stop, learn, seed)
    t0 = time.time()
    injected: list[tuple[str, str]] = []
    faults: dict[str, InjectedFault] = {}
    try:
        for service in services if not stop.is_set() else []:
            record = await clients.service(service).inject(fault)
            injected.append((service, record.id))
            faults[service] = InjectedFault(service, record.id, time.time())
            ui.info(f"injected {fault['kind']} on {service}: {record.id}")
        watch = PlatformWatch(clients, services, since=t0 - 1.0)
        cures = CureWatch(clients, ui, faults, settle_s, poll_s)
        summaries, traffic = await _traffic_until_cured(
            clients, ui, stop, phase, cures, watch, seed
        )
    finally:
        cleared = await clear_injected(clients, injected, ui)
    return {
        "command": "chaos",
        "started_at": round(t0, 3),
        "interrupted": stop.is_set(),
        "fault": fault,
        "faults": _fault_rows(faults, fault["kind"], cleared),
        "traffic": traffic,
        "phases": {**baseline, **summaries},
        "baselines": baselines_state,
        "platform": watch.report(),
    }
