"""Looking at the platform: `health` of every target, `status` (faults, anomalies, engine)."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from chaos_simulator.client import PlatformClient
from chaos_simulator.commands.common import EXIT_UNREACHABLE, json_option, run_async
from chaos_simulator.http import Api, ApiError
from chaos_simulator.render import Ui, health_table, render_status
from chaos_simulator.targets import TargetUnreachable


async def component_health(api: Api) -> dict[str, Any]:
    """/health and /ready of a platform component, as a health-table row."""
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
    return row


@click.command()
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

    async def body(clients: PlatformClient, ui: Ui, stop: asyncio.Event) -> int:
        checks = [clients.service(s).health() for s in clients.services]
        rows = list(await asyncio.gather(*checks))
        if platform:
            for api in (clients.anomaly, clients.policy):
                rows.append(await component_health(api))
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


async def platform_view(clients: PlatformClient) -> dict[str, Any]:
    """Open anomalies and the policy engine's state; a component's failure is noted, not
    fatal (`status` only fails for the services)."""
    doc: dict[str, Any] = {}
    try:
        doc["anomalies"] = await clients.anomaly.anomalies(status="active")
    except (TargetUnreachable, ApiError) as exc:
        doc["anomalies_error"] = str(exc)
    try:
        doc["policy_engine"] = (await clients.policy.status()).model_dump()
    except (TargetUnreachable, ApiError) as exc:
        doc["policy_engine_error"] = str(exc)
    return doc


@click.command()
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

    async def body(clients: PlatformClient, ui: Ui, stop: asyncio.Event) -> int:
        faults: dict[str, Any] = {}
        for name, api in clients.services.items():
            faults[name] = [f.model_dump() for f in await api.faults()]
        doc: dict[str, Any] = {"faults": faults}
        if platform:
            doc.update(await platform_view(clients))
        if ui.json_mode:
            ui.emit_json(doc)
            return 0
        render_status(ui, doc)
        return 0

    run_async(ctx, ui, body)
