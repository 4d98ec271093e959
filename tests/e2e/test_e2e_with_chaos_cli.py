"""The chaos CLI on the real stack (runs after test_e2e_scenarios.py): `chaos scenario` closes
the loop, and `chaos spike` (make chaos-spike) scales orders out without restarting it.

The scenario uses payments' latency, which no other scenario touches, so no cooldown from an
earlier scenario can mask it. The CLI talks to the stack's published ports (its defaults)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.harness import container_started_at, containers, wait_past_grace
from tests.e2e.prom import cpu_hold
from tests.e2e.report import REPORT, Timing
from tests.e2e.steps import wait_cooldowns_over

pytestmark = pytest.mark.e2e

CLI_ENV = {
    "ORDERS_URL": "http://127.0.0.1:8001", "USERS_URL": "http://127.0.0.1:8002",
    "PAYMENTS_URL": "http://127.0.0.1:8003", "ANOMALY_SERVICE_URL": "http://127.0.0.1:8080",
    "POLICY_ENGINE_URL": "http://127.0.0.1:8081",
}  # fmt: skip


@pytest.mark.timeout(600)
def test_chaos_scenario_cli_closes_the_loop_with_a_real_restart(stack: Stack) -> None:
    (payments,) = containers("payments")
    started_before = container_started_at(payments["name"])
    wait_past_grace("payments")
    # scenario 2 restarted payments about 5 minutes before (tests/e2e/conftest.py, ORDER)
    wait_cooldowns_over(stack.api, "payments_high_latency_restart")
    proc = subprocess.run(
        [sys.executable, "-m", "chaos_simulator", "scenario", "latency-restart",
         "--service", "payments", "--json", "--warmup-timeout", "120",
         "--detect-timeout", "90", "--act-timeout", "90", "--recover-timeout", "150"],
        capture_output=True, text=True, timeout=540, env={**os.environ, **CLI_ENV},
    )  # fmt: skip
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"chaos exited {proc.returncode} without a JSON report:\n{proc.stderr[-3000:]}")
    timing = Timing("7 chaos CLI: payments latency -> restart", report["injected_at"])
    for field, key in (("anomaly_at", "time_to_detect_s"), ("action_at", "time_to_act_s"),
                       ("normal_at", "time_to_recover_s")):  # fmt: skip
        if report.get(key) is not None:
            setattr(timing, field, report["injected_at"] + report[key])
    timing.note = "chaos scenario --json (anomaly resolved)"
    REPORT.timings.append(timing)
    why = f"exit {proc.returncode}: {report.get('message')}\n{proc.stderr[-2000:]}"
    assert proc.returncode == 0, why
    assert report["closed"] is True and report["failed_phase"] is None
    assert report["action"]["action"] == "restart_container"
    assert report["action"]["outcome"] == "succeeded"
    assert report["action"]["policy"] == "payments_high_latency_restart"
    assert 0 < report["time_to_detect_s"] <= report["time_to_act_s"] < report["time_to_recover_s"]
    # the restart really happened: the container's start time moved
    assert container_started_at(payments["name"]) > started_before


@pytest.mark.timeout(480)
def test_chaos_spike_scales_orders_out_and_never_restarts_it(stack: Stack) -> None:
    """The traffic spike of `make chaos-spike`, shortened: orders' pricing saturates its core,
    the shipped `cpu > 0.5 for 15s` policy adds a replica, and the latency restart policies
    (`cpu < 0.3`) keep out of it, although the spike's p99 is far above 0.5 s.

    How much CPU the spike reaches depends on the host: the verdict is checked against what
    Prometheus saw. CPU held above 0.5 for 15 s -> a scale-up; never a restart either way."""
    wait_past_grace("orders")
    replicas_before = len(containers("orders"))
    began = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "chaos_simulator", "spike", "--service", "orders",
         "--baseline-duration", "5", "--learn-timeout", "120", "--duration", "60",
         "--cooldown-duration", "5", "--json"],
        capture_output=True, text=True, timeout=300, env={**os.environ, **CLI_ENV},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    actions = report["platform"]["actions"]
    spike = report["phases"]["spike"]
    held_s, peak = cpu_hold(stack.prom, "orders", began, time.time(), above=0.5)
    scaled = any(a["action"] == "scale_up" and a["outcome"] == "succeeded" for a in actions)
    REPORT.facts["8 chaos spike (60 s, orders)"] = (
        f"{spike['requests']} orders at {spike['rate_rps']} req/s, p99 "
        f"{spike['latency_ms']['p99']} ms; CPU peak {peak:.2f}, above 0.5 for {held_s:.0f} s; "
        "actions: " + ", ".join(f"{a['action']} {a['outcome']}" for a in actions)
    )
    assert report["baselines"] == "learned"
    # The restart policies had their chance: orders' latency anomaly opened during the spike.
    anomalies = report["platform"]["anomalies"]
    assert any(a["metric"] == "latency" for a in anomalies), anomalies
    restarts = [a for a in actions if a["action"] == "restart_container"]
    assert not restarts, [
        {k: a.get(k) for k in ("policy", "outcome", "reason", "target", "created_at")}
        | {"trigger": full.get("trigger"), "started": began}
        for a in restarts
        for full in stack.api.actions(service="orders", action="restart_container", since=began)
        if full["id"] == a["id"]
    ] or restarts
    if held_s >= 15:
        assert scaled, (f"orders CPU held above 0.5 for {held_s:.0f} s, no scale_up", actions)
    if scaled:
        assert held_s >= 10, f"scaled up, but Prometheus saw CPU above 0.5 for {held_s:.0f} s"
        assert len(containers("orders")) == replicas_before + 1
