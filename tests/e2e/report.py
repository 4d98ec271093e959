"""The timing table the e2e suites print at the end (fault -> anomaly -> action -> normal) and
save to .artifacts/e2e*/report.json, with the facts the scenarios record."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Timing:
    scenario: str
    fault_at: float
    anomaly_at: float | None = None
    action_at: float | None = None
    normal_at: float | None = None
    note: str = ""

    def row(self) -> dict[str, Any]:
        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - self.fault_at, 1)

        return {"scenario": self.scenario, "to_anomaly_s": rel(self.anomaly_at),
                "to_action_s": rel(self.action_at), "to_normal_s": rel(self.normal_at),
                "note": self.note}  # fmt: skip


@dataclass
class Report:
    timings: list[Timing] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)

    def table(self) -> str:
        lines = [
            f"{'scenario':<34} {'->anomaly':>10} {'->action':>10} {'->normal':>10}  note",
        ]
        for timing in self.timings:
            row = timing.row()

            def cell(v: float | None) -> str:
                return "-" if v is None else f"{v:.1f}s"

            lines.append(
                f"{row['scenario']:<34} {cell(row['to_anomaly_s']):>10} "
                f"{cell(row['to_action_s']):>10} {cell(row['to_normal_s']):>10}  {row['note']}"
            )
        for key, value in self.facts.items():
            lines.append(f"{key}: {value}")
        return "\n".join(lines)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(
            {"timings": [t.row() for t in self.timings], "facts": self.facts,
             "outcomes": self.outcomes}, indent=2))  # fmt: skip


REPORT = Report()
