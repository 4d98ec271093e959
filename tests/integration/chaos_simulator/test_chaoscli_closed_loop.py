"""`chaos scenario` against real processes of every component: the three demo services, a real
Prometheus scraping them (job `services`, `service` label, 1 s), the anomaly service
(CHECK_INTERVAL=1) and the policy engine in DRY_RUN, which pushes nothing to Docker.

The policy engine names a concrete container even in dry-run (it refuses with `no_targets`
when its compose project has no eligible replica), so the test runs one idle placeholder
container labelled as the `orders`/`payments` replicas of a throw-away compose project. Nothing
restarts it (dry-run); the CLI clears the fault itself after the dry_run action and measures the
signal's return to normal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procs import Proc, free_port, start_module
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = [pytest.mark.prometheus, pytest.mark.docker]

CLI = [sys.executable, "-m", "chaos_simulator"]
PREFIX = f"chaoscli-it-{uuid.uuid4().hex[:8]}"
IMAGE = "python:3.11-slim-bookworm"

POLICIES = """
settings:
  grace_period: 0s
policies:
  - name: orders_high_latency_restart
    condition: "latency > 0.5 and severity >= warning"
    action: restart_container
    service: orders
    cooldown: 300
  - name: users_high_latency_restart
    condition: "latency > 0.5 and severity >= warning"
    action: restart_container
    service: users
    cooldown: 300
  - name: payments_error_rate_restart
    condition: "error_rate > 10% and severity >= warning"
    action: restart_container
    service: payments
    cooldown: 300
  # Far lower than the shipped 0.7 cores: this machine is shared, the overload only has to
  # move orders' CPU well off its baseline, which is what the anomaly service judges.
  - name: orders_cpu_scale_up
    condition: "cpu > 0.1 and severity >= warning"
    action: scale_up
    service: orders
    cooldown: 60
    params: {step: 1, min_replicas: 1, max_replicas: 3}
"""


@dataclass
class Platform:
    services: dict[str, Proc]
    prometheus: PrometheusServer
    anomaly: Proc
    policy: Proc

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ORDERS_URL": self.services["orders"].url,
            "USERS_URL": self.services["users"].url,
            "PAYMENTS_URL": self.services["payments"].url,
            "ANOMALY_SERVICE_URL": self.anomaly.url,
            "POLICY_ENGINE_URL": self.policy.url,
        }


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


def _placeholder(service: str) -> str:
    name = f"{PREFIX}-{service}-1"
    labels = {
        "com.docker.compose.project": PREFIX,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": "1",
        "com.docker.compose.oneoff": "False",
        "relia.remediation": "enabled",
    }
    args = [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]
    result = _docker("run", "-d", "--name", name, *args, IMAGE, "sleep", "900")
    if result.returncode != 0:
        raise RuntimeError(f"cannot start placeholder container from {IMAGE}: {result.stderr}")
    return name


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("chaoscli-scenario")) as running:
        yield running


@contextlib.contextmanager
def running_platform(work: Path) -> Iterator[Platform]:
    """Every component as a local process (plus the placeholder containers); all stopped and
    removed on exit, even on failure."""
    procs: list[Proc] = []
    containers: list[str] = []
    prometheus: PrometheusServer | None = None
    try:
        containers += [_placeholder(name) for name in ("orders", "users", "payments")]
        quiet = {"CHAOS_ENABLED": "false", "LOG_LEVEL": "WARNING"}
        users = start_module("services.users", work, quiet)
        payments = start_module("services.payments", work, quiet)
        orders = start_module(
            "services.orders", work, {**quiet, "USERS_URL": users.url, "PAYMENTS_URL": payments.url}
        )
        services = {"orders": orders, "users": users, "payments": payments}
        procs += [users, payments, orders]
        prometheus = PrometheusServer(
            work,
            [
                ScrapeTarget("services", f"127.0.0.1:{p.port}", {"service": name})
                for name, p in services.items()
            ],
            scrape_interval="1s",
        ).start()
        prometheus.wait_for_targets_up(3)
        anomaly_port, policy_port = free_port(), free_port()
        policies = work / "policies.yml"
        policies.write_text(POLICIES)
        policy = start_module(
            "policy_engine",
            work,
            {
                "POLICIES_FILE": str(policies),
                "STATE_DIR": str(work / "policy-state"),
                "ANOMALY_SERVICE_URL": f"http://127.0.0.1:{anomaly_port}",
                "DRY_RUN": "true",
                "CHECK_INTERVAL": "1",
                "COMPOSE_PROJECT": PREFIX,
            },
            port=policy_port,
        )
        procs.append(policy)
        anomaly = start_module(
            "anomaly_service",
            work,
            {
                "PROMETHEUS_URL": prometheus.url,
                "POLICY_ENGINE_URL": policy.url,
                "CHECK_INTERVAL": "1",
            },
            port=anomaly_port,
        )
        procs.append(anomaly)
        yield Platform(services, prometheus, anomaly, policy)
    finally:
        for proc in reversed(procs):
            proc.stop()
        if prometheus is not None:
            prometheus.stop()
        for name in containers:
            _docker("rm", "-f", name)


def run_scenario(platform: Platform, name: str, tmp_path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [*CLI, "scenario", name, "--expect-dry-run", "--json", "--warmup-timeout", "150",
         "--detect-timeout", "60", "--act-timeout", "45", "--recover-timeout", "90",
         "--rate", "15", "--poll", "0.5"],
        env=platform.env, capture_output=True, text=True, timeout=420,
    )  # fmt: skip
    (tmp_path / f"{name}.out").write_text(result.stdout + "\n--- stderr\n" + result.stderr)
    logs = "\n".join(
        f"--- {p.module}\n{p.log_text()[-3000:]}" for p in (platform.anomaly, platform.policy)
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{logs}"
    return dict(json.loads(result.stdout))


@pytest.mark.timeout(480)
@pytest.mark.parametrize(
    ("scenario", "service", "policy"),
    [
        ("latency-restart", "orders", "orders_high_latency_restart"),
        ("errors-restart", "payments", "payments_error_rate_restart"),
        ("cpu-scale", "orders", "orders_cpu_scale_up"),
    ],
)
def test_scenario_reports_time_to_detect_act_and_recover(
    platform: Platform, tmp_path: Path, scenario: str, service: str, policy: str
) -> None:
    report = run_scenario(platform, scenario, tmp_path)
    print(json.dumps({k: v for k, v in report.items() if k != "traffic"}, indent=2))
    assert report["closed"] is True
    assert report["service"] == service
    assert report["dry_run"] is True
    assert 0 < report["time_to_detect_s"] <= 60
    assert report["time_to_detect_s"] <= report["time_to_act_s"] <= 60 + 45
    assert report["time_to_act_s"] < report["time_to_recover_s"]
    assert report["anomaly"]["id"].startswith("a-")
    action = report["action"]
    assert action["action"] == ("scale_up" if scenario == "cpu-scale" else "restart_container")
    assert action["outcome"] == "dry_run"
    assert action["policy"] == policy
    # A restart names the replicas, a scale the service (what the engine would act on).
    assert action["target"] in (f"{PREFIX}-{service}-1", service)
    assert action["trigger_anomaly_id"] == report["anomaly"]["id"]
    assert report["fault_gone_after_s"] is None  # dry-run: only the CLI ended the fault
    # The fault was really felt by the traffic, and the CLI left nothing behind.
    traffic = report["traffic"]["background"]
    if scenario == "latency-restart":
        assert traffic["latency_ms"]["max"] >= 700
    elif scenario == "errors-restart":
        assert traffic["failed"] > 0
    else:
        overload = report["traffic"]["overload"]
        assert overload["peak_in_flight"] >= 16
        assert set(overload["by_endpoint"]) == {"orders.create"}
        assert report["recovered_via"] == "overload stopped after the action"
    faults = httpx.get(platform.services[service].url + "/chaos", timeout=5).json()["faults"]
    assert faults == []


@pytest.mark.timeout(240)
def test_chaos_command_lists_the_platforms_anomaly_and_action(platform: Platform) -> None:
    """`chaos chaos` watches the platform while it runs; in dry-run nothing cures the fault, so
    it runs its full duration and clears the fault itself at the end. On users: the scenarios
    above faulted orders and payments, and an anomaly of theirs still open would swallow this
    one (the policy acts once per anomaly). Seen beside a CPU hog: orders' latency anomaly from
    the CPU scenario stayed open at info for minutes (p99 0.20 s against a band top of 0.17 s)."""
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        active = httpx.get(
            platform.anomaly.url + "/anomalies",
            params={"service": "users", "status": "active"},
            timeout=5,
        ).json()["items"]
        if not active:
            break
        time.sleep(1.0)
    assert not active, f"users anomalies still open: {active}"
    result = subprocess.run(
        [*CLI, "chaos", "--service", "users", "--fault", "latency", "--duration", "40",
         "--rate", "15", "--learn-timeout", "60", "--json"],
        env=platform.env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [row] = report["faults"]
    assert row["cured"] is False
    assert row["cleared_by_cli"] is True
    # The scenarios above warmed the platform up: the fault went in once that was confirmed,
    # at once (a baseline row, if any request slipped out before the check, is a short one).
    assert report["baselines"] == "learned"
    assert "chaos" in report["phases"]
    assert set(report["phases"]) <= {"baseline", "chaos"}
    assert report["phases"].get("baseline", {"elapsed_s": 0})["elapsed_s"] < 3
    seen = report["platform"]
    started = report["started_at"]
    assert seen["unreachable"] == []
    assert any(a["service"] == "users" and a["metric"] == "latency" for a in seen["anomalies"]), (
        seen
    )
    # The policy acted (dry_run) or its guard recorded why not (cooldown after the scenario).
    debug = {
        "report": report,
        "stderr": result.stderr[-2000:],
        "actions": httpx.get(platform.policy.url + "/actions", timeout=5).json(),
        "policies": httpx.get(platform.policy.url + "/policies", timeout=5).json(),
        "policy_log": platform.policy.log_text()[-3000:],
    }
    assert any(
        a["service"] == "users"
        and a["action"] == "restart_container"
        and a["created_at"] >= started
        for a in seen["actions"]
    ), json.dumps(debug, indent=1, default=str)
    faults = httpx.get(platform.services["users"].url + "/chaos", timeout=5).json()["faults"]
    assert faults == []


@pytest.mark.timeout(240)
def test_ctrl_c_during_a_scenario_clears_its_fault_and_reports(platform: Platform) -> None:
    proc = subprocess.Popen(
        [*CLI, "scenario", "errors-restart", "--expect-dry-run", "--json",
         "--warmup-timeout", "150", "--cooldown-timeout", "0"],
        env=platform.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    payments = platform.services["payments"].url + "/chaos"
    try:
        deadline = time.monotonic() + 170
        while time.monotonic() < deadline and proc.poll() is None:
            if httpx.get(payments, timeout=5).json()["faults"]:
                break
            time.sleep(0.3)
        assert httpx.get(payments, timeout=5).json()["faults"], "no fault was injected"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    report = json.loads(out)
    assert report["closed"] is False
    assert report["failed_phase"] == "interrupted"
    assert "background" in report["traffic"]
    assert httpx.get(payments, timeout=5).json()["faults"] == []


def test_healthy_load_is_watched_and_triggers_nothing(platform: Platform) -> None:
    """`chaos load` (make chaos-load) reports what the platform did meanwhile: nothing. The
    report lists every anomaly that overlapped the run; one still open from an earlier test
    (seen on a busy host: users' request_rate drop after the previous test's load, resolved
    150 s later) is not this load's doing, so only the ones opened during the run count."""
    started = time.time()
    result = subprocess.run(
        [*CLI, "load", "--service", "users", "--duration", "6", "--rate", "10", "--json"],
        env=platform.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["failed"] == 0
    seen = report["platform"]
    assert (seen["services"], seen["unreachable"], seen["actions"]) == (["users"], [], [])
    opened_here = [a for a in seen["anomalies"] if a["opened_at"] >= started - 1.0]
    assert opened_here == [], seen["anomalies"]
