"""A real Prometheus scrapes the three services: a latency fault on orders moves orders' PromQL
p99 above the injected latency, and users' p99 stays below it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.procs import Proc
from tests.support.prometheus import PrometheusServer, ScrapeTarget

P99 = (
    "histogram_quantile(0.99, sum by (service, le) "
    "(rate(http_server_request_duration_seconds_bucket[5s])))"
)
# Well above a healthy p99 even on a busy shared machine (seen up to ~0.4 s for orders there).
INJECTED_S = 1.0


class Traffic:
    """Bounded background load: POST /orders from a few threads until stopped or capped."""

    def __init__(
        self,
        orders_url: str,
        threads: int = 4,
        max_requests: int = 20_000,
        max_seconds: float = 180.0,
    ) -> None:
        self.url = orders_url + "/orders"
        self.stop_event = threading.Event()
        self.max_requests = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        body = {"customer_id": "u-3", "items": [{"sku": "pen", "qty": 2, "unit_price": 1.5}]}
        with httpx.Client(timeout=10) as client:
            while not self.stop_event.is_set() and time.monotonic() < self.deadline:
                with self.lock:
                    if self.sent >= self.max_requests:
                        return
                    self.sent += 1
                try:
                    status = client.post(self.url, json=body).status_code
                except httpx.HTTPError:
                    status = -1
                with self.lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                time.sleep(0.01)  # pacing, keeps the shared machine usable

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=15)


def _p99(prom: PrometheusServer) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in prom.query(P99):
        value = float(row["value"][1])
        if value == value:  # NaN when a window has no requests
            out[row["metric"]["service"]] = value
    return out


@pytest.mark.prometheus
def test_latency_fault_moves_orders_p99_not_users(stack: dict[str, Proc], tmp_path: Path) -> None:
    targets = [
        ScrapeTarget("services", f"127.0.0.1:{proc.port}", {"service": name})
        for name, proc in stack.items()
    ]
    prom = PrometheusServer(tmp_path, targets, scrape_interval="1s").start()
    try:
        prom.wait_for_targets_up(3, timeout_s=30)
        with Traffic(stack["orders"].url) as traffic:
            # Healthy first: both services have a p99, well below the latency we will inject.
            deadline = time.monotonic() + 60
            before: dict[str, float] = {}
            while time.monotonic() < deadline:
                before = _p99(prom)
                if {"orders", "users"} <= before.keys() and before["orders"] < INJECTED_S:
                    break
                time.sleep(0.5)
            assert {"orders", "users"} <= before.keys(), before
            assert before["orders"] < INJECTED_S, before

            fault = {"kind": "latency", "ms": INJECTED_S * 1000}
            resp = httpx.post(stack["orders"].url + "/chaos", json=fault, timeout=5)
            assert resp.status_code == 201

            deadline = time.monotonic() + 60
            after: dict[str, float] = {}
            while time.monotonic() < deadline:
                after = _p99(prom)
                if after.get("orders", 0) > INJECTED_S:
                    break
                time.sleep(0.5)
            print(f"p99 before the fault: {before}; after: {after}")
            assert after.get("orders", 0) > INJECTED_S, (before, after)
            assert after["users"] < INJECTED_S, (before, after)
            assert after.get("payments", 0) < INJECTED_S, (before, after)
        assert traffic.statuses.get(201, 0) > 20, traffic.statuses
        httpx.delete(stack["orders"].url + "/chaos", timeout=5)
    finally:
        prom.stop()
