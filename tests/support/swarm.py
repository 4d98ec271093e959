"""A single-node Swarm for tests, left as it was found: joined only if no swarm was active, and
left again only by the run that joined it (never a swarm someone else created)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def sh(*args: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def swarm_state() -> tuple[str, bool]:
    """(LocalNodeState, is a manager) of the engine."""
    out = sh("docker", "info", "--format", "{{json .Swarm}}", timeout=30)
    info: dict[str, Any] = json.loads(out)
    return str(info.get("LocalNodeState", "")), bool(info.get("ControlAvailable"))


@contextmanager
def single_node_swarm() -> Iterator[bool]:
    """Yield True when this run initialised the swarm (and will leave it afterwards)."""
    state, manager = swarm_state()
    created = False
    if state == "inactive":
        sh("docker", "swarm", "init", "--advertise-addr", "127.0.0.1", timeout=60)
        created = True
    elif state != "active" or not manager:
        raise AssertionError(
            f"the engine is in swarm state {state!r} (manager={manager}): unusable"
        )
    try:
        yield created
    finally:
        if created:
            sh("docker", "swarm", "leave", "--force", timeout=60, check=False)


def tasks(service: str) -> list[dict[str, Any]]:
    """`docker service ps` through the CLI: a view independent of the actuator's SDK client."""
    ids = sh("docker", "service", "ps", "-q", "--no-trunc", service, timeout=30).split()
    if not ids:
        return []
    return list(json.loads(sh("docker", "inspect", *ids, timeout=30)))


def running_slots(service: str) -> dict[int, str]:
    """slot -> task id of the tasks that run and should run."""
    return {
        int(t["Slot"]): str(t["ID"])
        for t in tasks(service)
        if t["DesiredState"] == "running" and t["Status"]["State"] == "running"
    }
