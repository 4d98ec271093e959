"""The three services as real processes on 127.0.0.1: one trace across three services, and the
faults that only a real process can show (crash exit code, resident memory, CPU seconds)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.procs import Proc, start_module


def _json_lines(proc: Proc) -> list[dict[str, Any]]:
    lines = []
    for raw in proc.log_text().splitlines():
        raw = raw.strip()
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def _wait(predicate: Any, timeout_s: float = 20.0, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _metric(url: str, name: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


def test_one_order_is_one_trace_across_three_processes(stack: dict[str, Proc]) -> None:
    orders = stack["orders"]
    assert httpx.get(orders.url + "/ready", timeout=5).json()["ready"] is True
    body = {"customer_id": "u-7", "items": [{"sku": "tea", "qty": 4, "unit_price": 3.25}]}
    resp = httpx.post(orders.url + "/orders", json=body, timeout=10)
    assert resp.status_code == 201, resp.text
    order_id = resp.json()["id"]

    def order_logged() -> bool:
        return any(x.get("order_id") == order_id for x in _json_lines(orders))

    assert _wait(order_logged, 10)
    created = next(x for x in _json_lines(orders) if x.get("message") == "order created")
    trace_id = created["trace_id"]
    assert isinstance(trace_id, str)
    assert len(trace_id) == 32
    assert int(trace_id, 16) != 0

    def all_logged() -> bool:
        return all(
            any(x.get("trace_id") == trace_id for x in _json_lines(stack[name]))
            for name in ("users", "payments")
        )

    assert _wait(all_logged, 10), "users/payments never logged the order's trace id"
    for name, proc in stack.items():
        traced = [x for x in _json_lines(proc) if x.get("trace_id") == trace_id]
        assert traced, name
        for entry in traced:
            assert entry["service"] == name
            assert {"ts", "level", "message", "span_id"} <= entry.keys()
    # Each service has its own span in the same trace.
    spans = {
        name: {x["span_id"] for x in _json_lines(p) if x.get("trace_id") == trace_id}
        for name, p in stack.items()
    }
    assert spans["users"].isdisjoint(spans["orders"])
    assert spans["payments"].isdisjoint(spans["orders"])
    paid = [x for x in _json_lines(stack["payments"]) if x.get("message") == "payment authorized"]
    assert paid
    assert paid[-1]["trace_id"] == trace_id


def test_crash_exits_with_the_code_and_restart_cures(tmp_path: Path, quiet_env: dict) -> None:
    proc = start_module("services.users", tmp_path, env=quiet_env)
    try:
        resp = httpx.post(proc.url + "/chaos", json={"kind": "crash", "exit_code": 3}, timeout=5)
        assert resp.status_code == 201
        assert proc.popen is not None
        assert proc.popen.wait(timeout=20) == 3
        # A restart is a real cure: the new process has no fault.
        proc.start()
        assert httpx.get(proc.url + "/chaos", timeout=5).json()["faults"] == []
        assert httpx.get(proc.url + "/users/u-1", timeout=5).status_code == 200
    finally:
        proc.stop()


def test_memory_and_cpu_faults_show_in_process_metrics(tmp_path: Path, quiet_env: dict) -> None:
    proc = start_module("services.payments", tmp_path, env=quiet_env)
    try:
        rss0 = _metric(proc.url, "process_resident_memory_bytes")
        fault = {"kind": "memory", "mb_per_s": 100, "max_mb": 120}
        assert httpx.post(proc.url + "/chaos", json=fault, timeout=5).status_code == 201

        def grown() -> bool:
            return _metric(proc.url, "process_resident_memory_bytes") > rss0 + 100 * 2**20

        assert _wait(grown, 20), "resident memory did not grow by the injected amount"
        httpx.delete(proc.url + "/chaos", timeout=5)

        def released() -> bool:
            return _metric(proc.url, "process_resident_memory_bytes") < rss0 + 50 * 2**20

        assert _wait(released, 20), "memory was not released on clear"

        cpu0 = _metric(proc.url, "process_cpu_seconds_total")
        started = time.monotonic()
        assert httpx.post(proc.url + "/chaos", json={"kind": "cpu"}, timeout=5).status_code == 201

        def burning() -> bool:
            return _metric(proc.url, "process_cpu_seconds_total") - cpu0 > 1.0

        assert _wait(burning, 30), "CPU seconds did not rise"
        used = _metric(proc.url, "process_cpu_seconds_total") - cpu0
        # At most one core (plus the service's own bit of work).
        assert used <= (time.monotonic() - started) * 1.3 + 0.5
        httpx.delete(proc.url + "/chaos", timeout=5)
        cpu1 = _metric(proc.url, "process_cpu_seconds_total")
        time.sleep(1.5)  # measuring a rate needs an interval, this is not synchronisation
        assert _metric(proc.url, "process_cpu_seconds_total") - cpu1 < 0.5
    finally:
        proc.stop()


def test_hang_exhausts_a_real_process_and_clear_cures(tmp_path: Path, quiet_env: dict) -> None:
    env = {**quiet_env, "MAX_IN_FLIGHT": "4", "QUEUE_TIMEOUT_S": "1"}
    proc = start_module("services.users", tmp_path, env=env)
    try:
        assert httpx.post(proc.url + "/chaos", json={"kind": "hang"}, timeout=5).status_code == 201
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            hung = [pool.submit(httpx.get, proc.url + "/users/u-1", timeout=30) for _ in range(4)]

            def parked() -> bool:
                return _metric(proc.url, "http_server_active_requests") == 4

            assert _wait(parked, 10)
            saturated = httpx.get(proc.url + "/users/u-2", timeout=10)
            assert saturated.status_code == 503
            assert httpx.get(proc.url + "/health", timeout=5).status_code == 200
            assert httpx.delete(proc.url + "/chaos", timeout=5).json() == {"cleared": 1}
            assert [f.result(timeout=20).status_code for f in hung] == [200] * 4
    finally:
        proc.stop()


def test_restart_cures_a_hang(tmp_path: Path, quiet_env: dict) -> None:
    """SIGTERM (what docker restart sends) ends a process whose requests hang, promptly and
    cleanly, and the new process has no fault."""
    import concurrent.futures
    import signal

    proc = start_module(
        "services.orders", tmp_path, env={**quiet_env, "USERS_URL": "http://127.0.0.1:9"}
    )
    try:
        assert httpx.post(proc.url + "/chaos", json={"kind": "hang"}, timeout=5).status_code == 201
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            hung = [pool.submit(httpx.get, proc.url + "/orders", timeout=30) for _ in range(2)]
            assert _wait(lambda: _metric(proc.url, "http_server_active_requests") == 2, 10)
            started = time.monotonic()
            code = proc.stop(signal.SIGTERM, timeout_s=15)
            # uvicorn re-raises SIGTERM after its graceful shutdown: -15, not -9 (killed).
            assert code in (0, -signal.SIGTERM), code
            assert "service stopped" in proc.log_text()
            assert time.monotonic() - started < 12
            for future in hung:
                # The connection closing is what a client of a restarted container sees.
                with contextlib.suppress(httpx.HTTPError):
                    future.result(timeout=20)
        proc.start()
        assert httpx.get(proc.url + "/chaos", timeout=5).json()["faults"] == []
        assert httpx.get(proc.url + "/orders", timeout=5).status_code == 200
    finally:
        proc.stop()


def test_image_entrypoint_picks_the_service_by_env(tmp_path: Path, quiet_env: dict) -> None:
    """`python -m services` (the image's command) runs $SERVICE, and refuses an unknown one."""
    import subprocess
    import sys

    bad = subprocess.run(
        [sys.executable, "-m", "services"],
        env={**os.environ, "SERVICE": "billing"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "SERVICE must be one of orders, users, payments" in bad.stderr
    proc = start_module("services", tmp_path, env={**quiet_env, "SERVICE": "payments"})
    try:
        assert httpx.get(proc.url + "/chaos", timeout=5).json()["service"] == "payments"
    finally:
        proc.stop()
