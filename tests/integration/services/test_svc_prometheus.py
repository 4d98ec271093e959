"""A real Prometheus scrapes the three services: a latency fault on orders moves orders' PromQL
p99 above the injected latency, and users' p99 stays below it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.support.procs import Proc, demo_services
from tests.support.prometheus import PrometheusServer, ScrapeTarget

P99 = (
    "histogram_quantile(0.99, sum by (service, le) "
    "(rate(http_server_request_duration_seconds_bucket[5s])))"
)
# Well above a healthy p99 even on a busy shared machine (seen up to ~0.4 s for orders there).
INJECTED_S = 1.0
T = TypeVar("T")


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


# The edge signals of docs/services.md: by caller (service) and callee (peer_service).
_EDGE_CALLS = (
    "sum by (service, peer_service) (rate(http_client_request_duration_seconds_count[5s]))"
)
# `or 0 * calls`: an edge with calls and no failures is 0, not absent.
EDGE_FAILURE_RATIO = (
    "(sum by (service, peer_service) "
    '(rate(http_client_request_duration_seconds_count{status_code=~"5..|none"}[5s]))'
    f" or 0 * {_EDGE_CALLS}) / {_EDGE_CALLS}"
)
EDGE_TIMEOUTS = (
    "sum by (service, peer_service) "
    '(rate(http_client_request_duration_seconds_count{error_type="timeout"}[5s]))'
)
ACTIVE = "max by (service) (http_server_active_requests)"


def _by_edge(prom: PrometheusServer, query: str) -> dict[tuple[str, str], float]:
    return {
        (row["metric"]["service"], row["metric"]["peer_service"]): float(row["value"][1])
        for row in prom.query(query)
    }


def _poll(read: Callable[[], T], done: Callable[[T], bool], timeout_s: float = 45.0) -> T:
    """Read until `done(value)` or the deadline; return the last value read."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


@pytest.mark.prometheus
def test_client_metrics_tell_the_culprit_edge_and_a_hang(tmp_path: Path) -> None:
    """Errors in payments show on orders->payments only; a hung users shows as timeouts on
    orders->users and as requests piling up inside users, which completes none."""
    with demo_services(tmp_path, {"DOWNSTREAM_TIMEOUT_S": "1"}) as procs:
        targets = [
            ScrapeTarget("services", f"127.0.0.1:{proc.port}", {"service": name})
            for name, proc in procs.items()
        ]
        prom = PrometheusServer(tmp_path, targets, scrape_interval="1s").start()
        try:
            prom.wait_for_targets_up(3, timeout_s=30)
            with Traffic(procs["orders"].url, threads=3):
                _payments_errors_show_on_their_edge_only(prom, procs)
                _a_hung_users_times_out_its_callers(prom, procs)
        finally:
            prom.stop()


def _payments_errors_show_on_their_edge_only(
    prom: PrometheusServer, procs: dict[str, Proc]
) -> None:
    healthy = _poll(
        lambda: _by_edge(prom, EDGE_FAILURE_RATIO),
        lambda v: {("orders", "users"), ("orders", "payments")} <= v.keys(),
    )
    assert healthy.get(("orders", "payments")) == 0.0, healthy
    assert set(healthy) == {("orders", "users"), ("orders", "payments")}, healthy
    fault = {"kind": "errors", "rate": 1.0}
    assert httpx.post(procs["payments"].url + "/chaos", json=fault).status_code == 201
    failing = _poll(
        lambda: _by_edge(prom, EDGE_FAILURE_RATIO),
        lambda v: v.get(("orders", "payments"), 0) >= 0.9,
    )
    print(f"edge failure ratio, payments erroring: {failing}")
    assert failing.get(("orders", "payments"), 0) >= 0.9, failing
    assert failing[("orders", "users")] == 0.0, failing
    httpx.delete(procs["payments"].url + "/chaos", timeout=5)


def _a_hung_users_times_out_its_callers(prom: PrometheusServer, procs: dict[str, Proc]) -> None:
    assert httpx.post(procs["users"].url + "/chaos", json={"kind": "hang"}).status_code == 201
    timeouts = _poll(
        lambda: _by_edge(prom, EDGE_TIMEOUTS),
        lambda v: v.get(("orders", "users"), 0) > 0,
    )
    active = _poll(
        lambda: {r["metric"]["service"]: float(r["value"][1]) for r in prom.query(ACTIVE)},
        lambda v: v.get("users", 0) >= 3,
    )
    print(f"users hung: timeouts/s by edge {timeouts}; active requests {active}")
    assert timeouts.get(("orders", "users"), 0) > 0, timeouts
    assert timeouts.get(("orders", "payments"), 0) == 0, timeouts
    assert active.get("users", 0) >= 3, active
    httpx.delete(procs["users"].url + "/chaos", timeout=5)
