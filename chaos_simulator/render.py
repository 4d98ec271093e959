"""Terminal output: rich tables on stdout, progress and messages on stderr, or JSON."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from chaos_simulator.stats import Stats


class Ui:
    """Where output goes: `--json` keeps stdout to one JSON document."""

    def __init__(self, json_mode: bool = False, quiet: bool = False) -> None:
        self.json_mode = json_mode
        self.out = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False)
        self.quiet = quiet

    def info(self, message: str) -> None:
        if not self.quiet:
            self.err.print(message)

    def error(self, message: str) -> None:
        self.err.print(f"[bold red]error:[/] {message}")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {message}")

    def progress(self, enabled: bool = True) -> Progress:
        return Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("/"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"),
            console=self.err,
            disable=not enabled or self.json_mode or self.quiet or not self.err.is_terminal,
            transient=False,
        )

    def emit_json(self, document: Any) -> None:
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        sys.stdout.flush()


def live_detail(stats: Stats, elapsed: float) -> str:
    rate = stats.count / elapsed if elapsed > 0 else 0.0
    err = 100.0 * stats.failed / stats.count if stats.count else 0.0
    return f"{stats.count} req  {rate:.1f}/s  {err:.1f}% err"


def _fmt(value: Any, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}{suffix}"
    return f"{value}{suffix}"


def summary_table(phases: dict[str, dict[str, Any]], title: str = "Traffic summary") -> Table:
    table = Table(title=title)
    for col in ("phase", "requests", "rate/s", "error %", "p50 ms", "p95 ms", "p99 ms", "peak"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for name, s in phases.items():
        lat = s["latency_ms"]
        table.add_row(
            name,
            str(s["requests"]),
            _fmt(s["rate_rps"]),
            _fmt(s["error_pct"]),
            _fmt(lat["p50"]),
            _fmt(lat["p95"]),
            _fmt(lat["p99"]),
            str(s["peak_in_flight"]),
        )
    return table


def errors_table(summary: dict[str, Any]) -> Table | None:
    if not summary.get("errors") and not summary.get("status_codes"):
        return None
    table = Table(title="Responses")
    table.add_column("status / error")
    table.add_column("count", justify="right")
    for code, n in summary.get("status_codes", {}).items():
        table.add_row(f"HTTP {code}" if code != "none" else "no answer", str(n))
    for err, n in summary.get("errors", {}).items():
        table.add_row(f"  {err[:90]}", str(n))
    return table


def scenario_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Scenario {report['scenario']} ({report['service']} {report['metric']})")
    table.add_column("phase")
    table.add_column("after fault (s)", justify="right")
    table.add_column("detail")
    anomaly = report.get("anomaly") or {}
    action = report.get("action") or {}
    table.add_row(
        "detect",
        _fmt(report["time_to_detect_s"]),
        f"{anomaly.get('id')} {anomaly.get('severity')} {anomaly.get('kind')}" if anomaly else "-",
    )
    table.add_row(
        "act",
        _fmt(report["time_to_act_s"]),
        f"{action.get('action')} by {action.get('policy')} -> {action.get('outcome')}"
        if action
        else "-",
    )
    table.add_row("recover", _fmt(report["time_to_recover_s"]), report.get("recovered_via") or "-")
    return table


def health_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Health")
    for col in ("target", "url", "health", "ready", "detail"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            r["url"],
            "[green]up[/]" if r.get("health") else "[red]down[/]",
            {True: "ready", False: "not ready", None: "-"}[r.get("ready")],
            r.get("error", ""),
        )
    return table


def render_status(ui: Ui, doc: dict[str, Any]) -> None:
    """Active faults per service, then the platform's view when it was asked for."""
    table = Table(title="Active faults")
    for col in ("service", "id", "kind", "params", "expires in"):
        table.add_column(col)
    for name, items in doc["faults"].items():
        if not items:
            table.add_row(name, "-", "none", "", "")
        for f in items:
            exp = f.get("expires_at")
            table.add_row(
                name,
                str(f.get("id")),
                str(f.get("kind")),
                str(f.get("params")),
                f"{exp - time.time():.0f}s" if exp else "until cleared",
            )
    ui.out.print(table)
    if "anomalies" in doc:
        ui.out.print(f"open anomalies: {len(doc['anomalies'])}")
        for a in doc["anomalies"][:20]:
            ui.out.print(
                f"  {a.get('service')}/{a.get('metric')} {a.get('severity')}: "
                f"{a.get('summary') or a.get('id')}"
            )
    elif "anomalies_error" in doc:
        ui.out.print(f"[yellow]{doc['anomalies_error']}[/]")
    if "policy_engine" in doc:
        pe = doc["policy_engine"]
        ui.out.print(
            f"policy engine: enabled={pe.get('enabled')} dry_run={pe.get('dry_run')} "
            f"policies valid={(pe.get('policies') or {}).get('valid')}"
        )
    elif "policy_engine_error" in doc:
        ui.out.print(f"[yellow]{doc['policy_engine_error']}[/]")


def render_platform(ui: Ui, platform: dict[str, Any]) -> None:
    """The anomalies and actions a platform watch saw, or why it saw nothing."""
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


def render_traffic(ui: Ui, report: dict[str, Any], title: str) -> None:
    """A traffic command's report: the summary (per phase when there are several), the
    responses, and what the platform did."""
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


def render_chaos(ui: Ui, report: dict[str, Any]) -> None:
    """`chaos chaos`: traffic, then each fault and whether a restart cured it."""
    if ui.json_mode:
        ui.emit_json(report)
        return
    render_traffic(
        ui, {"summary": report["traffic"], "phases": report["phases"]}, "chaos: traffic summary"
    )
    for row in report["faults"]:
        state = (
            f"[green]cured after {row['cured_after_s']}s[/]"
            if row["cured"]
            else "[yellow]not cured[/]"
        )
        cleared = ", cleared by the CLI" if row["cleared_by_cli"] else ""
        ui.out.print(f"{row['service']}: {row['kind']} fault {row['fault_id']} {state}{cleared}")
    render_platform(ui, report["platform"])
    if report["interrupted"]:
        ui.out.print("[yellow]interrupted: injected faults cleared[/]")


def render_scenario(ui: Ui, report: dict[str, Any]) -> None:
    """`chaos scenario`: the timeline, the traffic meanwhile, other actions, the verdict."""
    if ui.json_mode:
        ui.emit_json(report)
        return
    ui.out.print(scenario_table(report))
    if report["traffic"]:
        ui.out.print(summary_table(report["traffic"], "Traffic during the scenario"))
    for a in report["other_actions"]:
        ui.out.print(f"other action: {a['action']} {a['outcome']} ({a['reason']})")
    colour = "green" if report["closed"] else "red"
    ui.out.print(f"[{colour}]{report['message']}[/]")
