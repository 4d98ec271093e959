"""The `chaos` CLI as a subprocess against the three demo services as real local processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procs import Proc, free_port, start_module

CLI = [sys.executable, "-m", "chaos_simulator"]


@dataclass
class Stack:
    orders: Proc
    users: Proc
    payments: Proc

    @property
    def env(self) -> dict[str, str]:
        # URLs through the environment: also checks the documented overrides.
        return {
            **os.environ,
            "ORDERS_URL": self.orders.url,
            "USERS_URL": self.users.url,
            "PAYMENTS_URL": self.payments.url,
            # Nothing listens here: the platform is optional for these commands.
            "ANOMALY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
            "POLICY_ENGINE_URL": f"http://127.0.0.1:{free_port()}",
        }

    def proc(self, name: str) -> Proc:
        return {"orders": self.orders, "users": self.users, "payments": self.payments}[name]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("chaoscli-services")
    quiet = {"CHAOS_ENABLED": "false", "LOG_LEVEL": "WARNING"}  # no background noise faults
    started: list[Proc] = []
    try:
        users = start_module("services.users", logs, quiet)
        started.append(users)
        payments = start_module("services.payments", logs, quiet)
        started.append(payments)
        orders = start_module(
            "services.orders",
            logs,
            {**quiet, "USERS_URL": users.url, "PAYMENTS_URL": payments.url},
        )
        started.append(orders)
        yield Stack(orders, users, payments)
    finally:
        for proc in reversed(started):
            proc.stop()


@pytest.fixture(autouse=True)
def no_faults_left(stack: Stack) -> Iterator[None]:
    yield
    for proc in (stack.orders, stack.users, stack.payments):
        httpx.delete(proc.url + "/chaos", timeout=5.0)


def cli(stack: Stack, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=stack.env, capture_output=True, text=True, timeout=timeout
    )


def request_counts(url: str) -> float:
    """Total of the service's request-duration histogram counts (all routes and statuses)."""
    text = httpx.get(url + "/metrics", timeout=5.0).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("http_server_request_duration_seconds_count"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def faults(proc: Proc) -> list[dict[str, Any]]:
    return list(httpx.get(proc.url + "/chaos", timeout=5.0).json()["faults"])


def test_load_reaches_the_services_metrics(stack: Stack) -> None:
    before = {n: request_counts(stack.proc(n).url) for n in ("orders", "users", "payments")}
    result = cli(stack, "load", "--duration", "4", "--rate", "40", "--concurrency", "6",
                 "--seed", "5", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert summary["requests"] >= 100
    assert summary["failed"] == 0
    assert summary["latency_ms"]["p99"] is not None
    ep = summary["by_endpoint"]
    after = {n: request_counts(stack.proc(n).url) for n in ("orders", "users", "payments")}
    delta = {n: after[n] - before[n] for n in after}
    slack = 6 + summary["cancelled"]  # requests cut at the deadline may still reach a server
    orders_sent = ep.get("orders.create", 0) + ep.get("orders.list", 0)
    assert orders_sent <= delta["orders"] <= orders_sent + slack
    # Every order creation fans out to users and payments: their counters see it too.
    users_sent = ep.get("users.get", 0) + ep.get("users.list", 0) + ep.get("orders.create", 0)
    assert users_sent <= delta["users"] <= users_sent + 2 * slack
    pays_sent = ep.get("payments.authorize", 0) + ep.get("orders.create", 0)
    assert pays_sent <= delta["payments"] <= pays_sent + 2 * slack
    # The platform is watched by default; here it is absent, which is said, not fatal.
    assert report["platform"] == {
        "services": ["orders", "payments", "users"],
        "unreachable": ["anomaly service", "policy engine"],
        "anomalies": [],
        "actions": [],
    }


def test_inject_status_clear_round_trip(stack: Stack) -> None:
    result = cli(stack, "inject", "orders", "latency", "--ms", "400", "--json")
    assert result.returncode == 0, result.stderr
    fault = json.loads(result.stdout)
    assert fault["kind"] == "latency"
    assert fault["id"].startswith("f-")
    result = cli(stack, "inject", "payments", "errors", "--rate", "1", "--status", "503",
                 "--duration", "120", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    pay_fault = json.loads(result.stdout)
    assert pay_fault["expires_at"] is not None

    status = json.loads(cli(stack, "status", "--no-platform", "--json").stdout)
    assert [f["id"] for f in status["faults"]["orders"]] == [fault["id"]]
    assert [f["id"] for f in status["faults"]["payments"]] == [pay_fault["id"]]
    assert status["faults"]["users"] == []
    # The faults are real: the service is slow and payments fails as asked.
    t0 = time.monotonic()
    assert httpx.get(stack.orders.url + "/orders", timeout=10.0).status_code == 200
    assert time.monotonic() - t0 >= 0.35
    assert httpx.post(stack.payments.url + "/payments/authorize", timeout=10.0,
                      json={"order_id": "o-1", "customer_id": "u-1", "amount": 5.0}
                      ).status_code == 503  # fmt: skip

    text = cli(stack, "status", "--no-platform").stdout
    assert fault["id"] in text
    assert "latency" in text

    result = cli(stack, "clear", "payments", "--id", pay_fault["id"], "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"cleared": {"payments": 1}}
    result = cli(stack, "clear", "payments", "--id", pay_fault["id"])
    assert result.returncode == 1
    assert "no fault" in result.stderr
    result = cli(stack, "clear", "--json")
    assert json.loads(result.stdout)["cleared"] == {"orders": 1, "users": 0, "payments": 0}
    assert faults(stack.orders) == []
    assert faults(stack.payments) == []


def test_spike_raises_concurrency(stack: Stack) -> None:
    before = request_counts(stack.orders.url)
    result = cli(stack, "spike", "--baseline-duration", "2", "--duration", "3",
                 "--cooldown-duration", "2", "--baseline-rate", "5", "--concurrency", "12",
                 "--no-watch", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    phases = report["phases"]
    assert list(phases) == ["baseline", "spike", "cooldown"]
    # No anomaly service here, so nothing to wait for: the baseline lasts its minimum, 2 s.
    assert report["baselines"] == "anomaly service unreachable"
    assert 2.0 <= phases["baseline"]["elapsed_s"] <= 3.5
    assert phases["baseline"]["peak_in_flight"] <= 4
    assert phases["spike"]["peak_in_flight"] >= 8
    assert phases["spike"]["rate_rps"] > 2 * phases["baseline"]["rate_rps"]
    assert set(phases["spike"]["by_endpoint"]) == {"orders.create"}
    assert report["plan"]["spike"]["concurrency"] == 12
    # The burst reached orders: its own request counter grew by at least what was answered.
    answered = phases["spike"]["requests"]
    assert request_counts(stack.orders.url) - before >= answered


def test_duration_is_honoured_even_when_requests_hang(stack: Stack) -> None:
    t0 = time.monotonic()
    result = cli(stack, "load", "--duration", "3", "--json")
    wall = time.monotonic() - t0
    assert result.returncode == 0, result.stderr
    elapsed = json.loads(result.stdout)["summary"]["elapsed_s"]
    assert 3.0 <= elapsed <= 3.5
    assert wall <= 3.0 + 4.0  # interpreter start-up and preflight on a busy 2-core machine

    # steady paces its requests: 5/s for 3 s, whatever the concurrency.
    result = cli(stack, "steady", "--duration", "3", "--rate", "5", "--concurrency", "4", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert 12 <= summary["requests"] + summary["cancelled"] <= 16
    assert summary["failed"] == 0

    # Hung requests never answer; the run still ends on time and counts them as cancelled.
    httpx.post(stack.users.url + "/chaos", json={"kind": "hang"}, timeout=5.0).raise_for_status()
    result = cli(stack, "load", "--service", "users", "--duration", "2", "--timeout", "30",
                 "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert 2.0 <= summary["elapsed_s"] <= 2.5
    assert summary["cancelled"] >= 1


def test_ctrl_c_prints_the_summary_and_clears_injected_faults(stack: Stack) -> None:
    proc = subprocess.Popen(
        [*CLI, "chaos", "--service", "orders", "--fault", "latency", "-p", "ms=200",
         "--duration", "60", "--rate", "10"],
        env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not faults(stack.orders):
            time.sleep(0.2)
        injected = faults(stack.orders)
        assert len(injected) == 1
        assert injected[0]["kind"] == "latency"
        start = request_counts(stack.orders.url)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and request_counts(stack.orders.url) < start + 3:
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "SIGINT" in err
    assert "traffic summary" in out
    assert "requests" in out
    assert re.search(r"orders: latency fault f-\S+ not cured, cleared by the CLI", out), out
    assert faults(stack.orders) == []


def test_chaos_reports_the_cure_when_the_service_restarts(stack: Stack) -> None:
    """A real restart (stop + start of the process on the same port) ends the fault."""
    proc = subprocess.Popen(
        [*CLI, "chaos", "--service", "payments", "--fault", "errors", "--duration", "60",
         "--rate", "10", "--settle", "2", "--json"],
        env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not faults(stack.payments):
            time.sleep(0.2)
        assert faults(stack.payments), "the chaos command did not inject"
        stack.payments.stop()
        stack.payments.start()
        out, err = proc.communicate(timeout=45)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    report = json.loads(out)
    [row] = report["faults"]
    assert row["service"] == "payments"
    assert row["cured"] is True
    assert row["cleared_by_cli"] is False
    assert 0 < row["cured_after_s"] < 45
    assert report["traffic"]["failed"] > 0  # the fault and the restart were felt
    assert report["platform"]["unreachable"] == ["anomaly service", "policy engine"]


def test_unreachable_target_is_a_clear_error(stack: Stack, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for args in (["load", "--duration", "2"], ["inject", "orders", "latency", "--ms", "5"],
                 ["status", "--no-platform"], ["chaos", "--duration", "2"]):  # fmt: skip
        result = subprocess.run(
            [*CLI, "--orders-url", dead, *args], env=stack.env, capture_output=True, text=True,
            timeout=30,
        )  # fmt: skip
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert f"orders at {dead} is unreachable" in result.stderr.replace("\n", " ")
        assert "Traceback" not in result.stderr
    result = cli(stack, "health", "--json")  # the platform URLs point at nothing
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert {t["name"]: t["ok"] for t in doc["targets"]} == {
        "orders": True, "users": True, "payments": True,
        "anomaly service": False, "policy engine": False,
    }  # fmt: skip
    result = cli(stack, "health", "--no-platform", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["ok"] is True


def test_seed_repeats_the_same_mix(stack: Stack) -> None:
    args = ["load", "--requests", "30", "--concurrency", "1", "--rate", "0", "--seed", "9"]
    runs = [cli(stack, *args, "--json") for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    mixes = [json.loads(r.stdout)["summary"]["by_endpoint"] for r in runs]
    assert sum(mixes[0].values()) == 30
    assert mixes[0] == mixes[1]
