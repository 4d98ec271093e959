"""The `chaos scenario` CLI closes the loop on the real stack (runs after test_e2e_scenarios.py).

It uses payments' latency, which no other scenario touches, so no cooldown from an earlier
scenario can mask it. The CLI talks to the stack's published ports (its defaults)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.harness import REPORT, Timing, container_started_at, containers

pytestmark = pytest.mark.e2e

GRACE_S = 50.0  # the shipped policies' grace period (45 s) plus a margin


@pytest.mark.timeout(600)
def test_chaos_scenario_cli_closes_the_loop_with_a_real_restart(stack: Stack) -> None:
    (payments,) = containers("payments")
    started_before = container_started_at(payments["name"])
    age = time.time() - started_before
    if age < GRACE_S:  # the engine leaves young containers alone
        time.sleep(GRACE_S - age)
    proc = subprocess.run(
        [sys.executable, "-m", "chaos_simulator", "scenario", "latency-restart",
         "--service", "payments", "--json", "--warmup-timeout", "120",
         "--detect-timeout", "90", "--act-timeout", "90", "--recover-timeout", "150"],
        capture_output=True, text=True, timeout=540,
        env={**os.environ, "ORDERS_URL": "http://127.0.0.1:8001",
             "USERS_URL": "http://127.0.0.1:8002", "PAYMENTS_URL": "http://127.0.0.1:8003",
             "ANOMALY_SERVICE_URL": "http://127.0.0.1:8080",
             "POLICY_ENGINE_URL": "http://127.0.0.1:8081"},
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
