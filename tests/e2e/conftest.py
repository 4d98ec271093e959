"""Session fixture: the compose stack on the real engine (fresh volumes), torn down after."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.harness import (
    PROJECT,
    REPO,
    compose_cmd,
    docker_stats,
    image_present,
    offline_mode,
    run,
)
from tests.e2e.prom import Prometheus
from tests.e2e.report import REPORT
from tests.e2e.steps import wait_baselines_warm
from tests.e2e.sync_client import SyncPlatform, wait_until
from tests.e2e.traffic import Traffic

ARTIFACTS = REPO / ".artifacts" / "e2e"
STAND_INS = (
    "python:3.11-slim-bookworm",
    "prom/prometheus:v2.55.1",
    "nginx:1.27.4-alpine",
    "prom/blackbox-exporter:v0.25.0",
    "prom/alertmanager:v0.27.0",
)


@dataclass
class Stack:
    compose: list[str]
    offline: bool
    api: SyncPlatform  # the chaos library's client of the platform
    prom: Prometheus
    traffic: Traffic
    policy_dir: str  # the engine reads policies.yml here (a copy: scenario 6 breaks it)
    started_at: float  # wall clock just before `up`
    warm_at: float  # wall clock once the baselines are learned, before any scenario's fault


def _collect_logs(compose: list[str]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        logs = run([*compose, "logs", "--no-color", "--timestamps", "--tail", "2000"],
                   timeout=120, check=False)  # fmt: skip
        (ARTIFACTS / "compose.log").write_text(logs.stdout + logs.stderr)
    except subprocess.TimeoutExpired:
        pass


def _refuse_to_replace_a_running_stack() -> None:
    """The suite needs the project name `relia` and its ports, and starts from fresh volumes.
    Outside CI it does not silently delete a stack someone is using."""
    if os.environ.get("CI") == "true" or os.environ.get("RELIA_E2E_REPLACE_STACK") == "1":
        return
    label = f"label=com.docker.compose.project={PROJECT}"
    found = run(["docker", "ps", "-a", "-q", "--filter", label], timeout=30, check=False)
    if found.stdout.strip():
        pytest.fail(
            f"a compose project '{PROJECT}' already has containers: the e2e suite would remove it "
            "and its volumes. Stop it first (`make down`), or let the suite replace it with "
            "RELIA_E2E_REPLACE_STACK=1.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    _refuse_to_replace_a_running_stack()
    offline = offline_mode()
    if offline and not all(image_present(image) for image in STAND_INS):
        run(["bash", str(REPO / "scripts" / "offline-images.sh"), "all"], timeout=1200)
    compose = compose_cmd(offline)
    # The engine gets a copy of the shipped policies, so editing it never touches the checkout.
    policy_dir = tempfile.mkdtemp(prefix="relia-e2e-policies-")
    shutil.copy(REPO / "policy_engine" / "policies.yml", policy_dir)
    os.chmod(policy_dir, 0o755)
    os.environ["RELIA_POLICY_DIR"] = policy_dir
    # Fresh state: the policy engine's store (cooldowns, budgets) must not leak between runs.
    run([*compose, "down", "-v", "--remove-orphans", "--timeout", "5"], timeout=300)
    run([*compose, "build"], timeout=1800)
    started, started_at = time.monotonic(), time.time()
    up = run([*compose, "up", "-d", "--wait", "--wait-timeout", "240"], timeout=400, check=False)
    if up.returncode != 0:
        _collect_logs(compose)
        run([*compose, "down", "-v", "--remove-orphans", "--timeout", "5"], timeout=300,
            check=False)  # fmt: skip
        os.environ.pop("RELIA_POLICY_DIR", None)
        shutil.rmtree(policy_dir, ignore_errors=True)
        raise RuntimeError(f"stack did not become healthy:\n{up.stderr[-4000:]}")
    REPORT.facts["up_to_all_healthy_s (images present)"] = round(time.monotonic() - started, 1)
    REPORT.facts["mode"] = "offline (no Loki/Alloy/Jaeger/Grafana)" if offline else "full"
    api, prom = SyncPlatform(), Prometheus()
    traffic = Traffic(rate_per_s=8.0, threads=4, max_duration_s=3600).start()
    try:
        wait_until("the anomaly service to be ready", api.ready, 120, 2)
        try:  # once per stack: every scenario needs learned baselines
            wait_baselines_warm(api, prom)
        except AssertionError as exc:
            # CI shows the tail of its output: make test prints this file last.
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "diagnosis.txt").write_text(f"{exc}\ntraffic: {traffic.stats}\n")
            raise
        REPORT.facts["up to baselines learned (s)"] = round(time.monotonic() - started, 1)
        yield Stack(compose=compose, offline=offline, api=api, prom=prom, traffic=traffic,
                    policy_dir=policy_dir, started_at=started_at,
                    warm_at=time.time())  # fmt: skip
    finally:
        traffic.stop()
        REPORT.facts["background traffic"] = (
            f"{traffic.stats.sent} requests, {traffic.stats.failed} transport errors, "
            f"statuses {dict(sorted(traffic.stats.by_status.items()))}"
        )
        try:
            rows, total = docker_stats()
            REPORT.facts["resident memory (docker stats --no-stream)"] = f"{total:.0f} MiB total"
            REPORT.facts["per container"] = "; ".join(rows)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            REPORT.facts["resident memory"] = f"unavailable: {exc}"
        _collect_logs(compose)
        api.close()
        prom.close()
        run([*compose, "down", "-v", "--remove-orphans", "--timeout", "5"], timeout=300,
            check=False)  # fmt: skip
        os.environ.pop("RELIA_POLICY_DIR", None)
        shutil.rmtree(policy_dir, ignore_errors=True)
        REPORT.save(ARTIFACTS / "report.json")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT.timings or REPORT.facts:
        terminalreporter.section("Relia e2e: fault -> anomaly -> action -> normal")
        terminalreporter.write_line(REPORT.table())


# The order of the scenarios on the one stack. A restart holds its target for the policy's
# cooldown (300 s), so scenarios on one service are spaced by the others instead of waiting it
# out: users is restarted by 4, 9 and 6, payments by 2 and 7, and the steady window (which
# needs no fault) sits between the first two users restarts. Unknown tests run last, in file
# order.
ORDER = (
    "test_paused_remediation_records_a_skip_then_acts_when_enabled",  # 4 users
    "test_steady_healthy_load_takes_no_action",  # 5
    # 1 before 9: the hang of users holds orders' p99 up (orders waits on users), and a
    # latency fault on orders right after it starts from that raised level (seen in CI)
    "test_latency_fault_on_orders_is_cured_by_restart",  # 1 orders
    "test_a_hung_users_is_restarted_and_its_caller_never",  # 9 users, > 300 s after 4
    "test_error_fault_on_payments_is_cured_by_restart",  # 2 payments
    "test_cpu_overload_scales_orders_up",  # 3a orders (scale up, overload stopped)
    # 6 runs while orders' `cpu < 0.2 for 120s` counts down (2-4 minutes after 3a's stop)
    "test_broken_policies_edit_is_reported_and_last_good_policies_keep_acting",  # 6 users
    "test_orders_scales_back_down_after_the_overload",  # 3b orders (scale down)
    "test_chaos_spike_scales_orders_out_and_never_restarts_it",  # 8 orders (scale)
    "test_chaos_scenario_cli_closes_the_loop_with_a_real_restart",  # 7 payments, > 300 s after 2
    # restarts the anomaly service: last, after every scenario that needs its baselines
    "test_anomaly_history_and_feedback_survive_a_restart_of_the_anomaly_service",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(ORDER)}
    e2e = [i for i in items if i.get_closest_marker("e2e")]
    others = [i for i in items if not i.get_closest_marker("e2e")]
    e2e.sort(key=lambda item: rank.get(item.name, len(ORDER)))  # stable: file order otherwise
    items[:] = others + e2e
