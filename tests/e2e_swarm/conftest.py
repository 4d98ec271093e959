"""Session fixture: `make up-swarm` (scripts/swarm.sh) on a single-node swarm, removed after.

Its own directory and marker (`e2e_swarm`), run in a pytest session of its own (`make
e2e-swarm`). RELIA_STACK (relia) and RELIA_PORT_OFFSET (0) name the stack and shift its ports:
with an offset it runs beside a compose stack (CI: `RELIA_STACK=relia-ci RELIA_PORT_OFFSET=10000`
beside the compose e2e, docs/swarm.md "Tests")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chaos_simulator.targets import Targets
from tests.e2e.harness import REPO, offline_mode, run
from tests.e2e.prom import PROMETHEUS, Prometheus
from tests.e2e.report import REPORT
from tests.e2e.sync_client import SyncPlatform
from tests.e2e.traffic import Traffic
from tests.support.requirements import require_docker
from tests.support.swarm import single_node_swarm, tasks

ARTIFACTS = REPO / ".artifacts" / "e2e-swarm"


@dataclass
class SwarmStack:
    name: str  # the stack's name: its services are <name>_<service>
    urls: dict[str, str]  # the demo services through the stack's gateway
    api: SyncPlatform  # the chaos library's client of the platform
    prom: Prometheus
    traffic: Traffic
    policy_dir: str
    first_tasks: dict[str, set[str]]  # every service's task ids once the stack was healthy

    def service(self, service: str) -> str:
        return f"{self.name}_{service}"


def shifted(url: str, offset: int) -> str:
    """http://127.0.0.1:8080 -> the same URL with its port moved by `offset`."""
    head, port = url.rsplit(":", 1)
    return f"{head}:{int(port) + offset}"


def _stack_settings() -> tuple[str, int]:
    name = os.environ.get("RELIA_STACK") or "relia"
    offset = int(os.environ.get("RELIA_PORT_OFFSET") or "0")
    return name, offset


def _down(env: dict[str, str], name: str) -> None:
    run(["bash", "scripts/swarm.sh", "down"], timeout=300, check=False, env=env)
    # every volume of the stack (scripts/swarm_stack.py names them <stack>-swarm_*); matched
    # here, not by `--filter name=`, which matches a substring
    listed = run(["docker", "volume", "ls", "-q"], timeout=60, check=False)
    names = [v for v in listed.stdout.split() if v.startswith(f"{name}-swarm_")]
    if names:
        run(["docker", "volume", "rm", *names], timeout=60, check=False)


def task_ids(stack: str) -> dict[str, set[str]]:
    """Every service of the stack with the ids of all its tasks, ended ones included."""
    services = run(["docker", "stack", "services", stack, "--format", "{{.Name}}"], timeout=30)
    return {name: {t["ID"] for t in tasks(name)} for name in services.stdout.split()}


def service_logs(service: str) -> str:
    """The service's last log lines; a note instead when the engine does not answer in time
    (seen on a busy CI host: `docker service logs` hung past 60 s and failed the teardown)."""
    try:
        logs = run(["docker", "service", "logs", "--tail", "300", service], timeout=45, check=False)
    except subprocess.TimeoutExpired:
        return f"`docker service logs {service}` did not answer within 45 s\n"
    return logs.stdout + logs.stderr


def _compose_stack_running() -> bool:
    label = "label=com.docker.compose.project=relia"
    return bool(run(["docker", "ps", "-q", "--filter", label], timeout=30).stdout.strip())


@pytest.fixture(scope="session")
def swarm_stack() -> Iterator[SwarmStack]:
    require_docker()
    name, offset = _stack_settings()
    if offset == 0 and _compose_stack_running():
        pytest.fail(
            "a compose stack `relia` runs on the stack's ports: `make down` first, or set "
            "RELIA_PORT_OFFSET (and RELIA_STACK) to run beside it",
            pytrace=False,
        )
    policy_dir = tempfile.mkdtemp(prefix="relia-e2e-swarm-policies-")
    shutil.copy(REPO / "policy_engine" / "policies.yml", policy_dir)
    os.chmod(policy_dir, 0o755)
    env = {
        **os.environ,
        "RELIA_POLICY_DIR": policy_dir,
        "OFFLINE": "1" if offline_mode() else "",
        "RELIA_STACK": name,
        "RELIA_PORT_OFFSET": str(offset),
    }
    with single_node_swarm():
        _down(env, name)  # fresh volumes: no cooldowns or budgets from an earlier run
        started = time.monotonic()
        up = subprocess.run(
            ["bash", "scripts/swarm.sh", "up", sys.executable],
            capture_output=True, text=True, timeout=900, cwd=REPO, env=env,
        )  # fmt: skip
        if up.returncode != 0:
            _down(env, name)
            shutil.rmtree(policy_dir, ignore_errors=True)
            raise RuntimeError(
                f"swarm stack not healthy:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}"
            )
        REPORT.facts["make up-swarm: deploy -> all healthy (images built)"] = (
            f"{time.monotonic() - started:.1f}s"
        )
        first_tasks = task_ids(name)
        defaults = Targets()
        urls = {k: shifted(v, offset) for k, v in defaults.services.items()}
        targets = Targets(
            services=urls,
            anomaly_url=shifted(defaults.anomaly_url, offset),
            policy_url=shifted(defaults.policy_url, offset),
        )
        api, prom = SyncPlatform(targets), Prometheus(shifted(PROMETHEUS, offset))
        traffic = Traffic(rate_per_s=5.0, threads=4, max_duration_s=1800, urls=urls).start()
        try:
            yield SwarmStack(name, urls, api, prom, traffic, policy_dir, first_tasks)
        finally:
            traffic.stop()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for service in ("policy-engine", "orders", "anomaly-service"):
                (ARTIFACTS / f"{service}.log").write_text(service_logs(f"{name}_{service}"))
            api.close()
            prom.close()
            _down(env, name)
            shutil.rmtree(policy_dir, ignore_errors=True)
            REPORT.save(ARTIFACTS / "report.json")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # REPORT is the compose e2e's too: print it only in the swarm e2e's own session
    markexpr = str(terminalreporter.config.getoption("markexpr") or "")
    if markexpr.strip() == "e2e_swarm" and (REPORT.timings or REPORT.facts):
        terminalreporter.section("Relia on Swarm e2e: fault -> anomaly -> action -> normal")
        terminalreporter.write_line(REPORT.table())
