"""The e2e harness: the compose stack on the real engine and the docker commands that observe
it. The platform is reached through the chaos library (sync_client.py), Prometheus through
prom.py; scenario steps are in steps.py, traffic in traffic.py, the timing table in report.py.

Everything talks to 127.0.0.1 (published ports) or to the project's own containers. Every loop
is bounded in count and time.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT = "relia"  # fixed: the Prometheus config and the policy engine's blast radius use it
UPSTREAM_ONLY_IMAGES = (
    "grafana/loki:3.4.2", "grafana/alloy:v1.8.1", "jaegertracing/jaeger:2.5.0",
    "grafana/grafana:11.5.2",
)  # fmt: skip


def image_present(image: str) -> bool:
    return (
        subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0
    )


def offline_mode() -> bool:
    """RELIA_E2E_OFFLINE=1/0 forces it; otherwise offline when an upstream-only image is absent."""
    forced = os.environ.get("RELIA_E2E_OFFLINE", "").strip().lower()
    if forced in {"1", "true", "yes"}:
        return True
    if forced in {"0", "false", "no"}:
        return False
    return not all(image_present(image) for image in UPSTREAM_ONLY_IMAGES)


def compose_cmd(offline: bool) -> list[str]:
    cmd = ["docker", "compose", "-p", PROJECT, "-f", str(REPO / "docker-compose.yml")]
    if offline:
        cmd += ["-f", str(REPO / "docker-compose.offline.yml")]
    # A local override (e.g. a different build) for developers; unset in CI.
    extra = os.environ.get("RELIA_E2E_EXTRA_COMPOSE", "").strip()
    if extra:
        cmd += ["-f", extra]
    return cmd


def run(
    cmd: list[str], timeout: float, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )
    return result


def containers(service: str) -> list[dict[str, str]]:
    """Running containers of one compose service of the project (docker ps)."""
    result = run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
         "--filter", f"label=com.docker.compose.service={service}",
         "--format", "{{.ID}} {{.Names}} {{.Status}}"],
        timeout=30,
    )  # fmt: skip
    rows = []
    for line in result.stdout.splitlines():
        cid, name, status = line.split(" ", 2)
        rows.append({"id": cid, "name": name, "status": status})
    return rows


def container_started_at(name: str) -> float:
    out = run(["docker", "inspect", "-f", "{{.State.StartedAt}}", name], timeout=30).stdout.strip()
    return datetime.fromisoformat(out[:26].rstrip("Z") + "+00:00").timestamp()


GRACE_S = 50.0  # the shipped policies' grace_period (45 s) plus a margin


def wait_past_grace(service: str) -> None:
    """The engine leaves containers younger than the grace period alone: wait until the
    service's youngest replica is older."""
    youngest = max(container_started_at(row["name"]) for row in containers(service))
    age = time.time() - youngest
    if age < GRACE_S:
        time.sleep(GRACE_S - age)


def docker_stats() -> tuple[list[str], float]:
    """Per-container resident memory of the project, and the total in MiB."""
    names = run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
         "--format", "{{.Names}}"], timeout=30,
    ).stdout.split()  # fmt: skip
    if not names:
        return [], 0.0
    result = run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *names],
        timeout=60,
    )
    rows, total = [], 0.0
    units = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}
    for line in result.stdout.splitlines():
        _name, usage = line.split(" ", 1)
        amount = usage.split("/")[0].strip()
        for unit, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
            if amount.endswith(unit):
                total += float(amount[: -len(unit)]) * factor
                break
        rows.append(line)
    return rows, total
