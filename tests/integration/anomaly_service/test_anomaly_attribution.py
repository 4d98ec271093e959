"""Root cause on real parts: three service processes, a real Prometheus, the anomaly service as
a process. payments fails -> orders' error anomaly names payments (edge evidence) in the API and
in the event it sends; payments' own anomaly names nobody."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anomaly_it_support import Load, get, poll, watched

from tests.support.procs import Proc, demo_services
from tests.support.prometheus import ScrapeTarget

pytestmark = pytest.mark.prometheus
ORDER = {"customer_id": "u-3", "items": [{"sku": "pen", "qty": 1, "unit_price": 2.0}]}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[dict[str, Proc]]:
    with demo_services(tmp_path) as procs:
        yield procs


def active_errors(url: str) -> dict[str, dict[str, Any]]:
    items = get(url + "/anomalies?metric=error_rate&status=active")["items"]
    return {a["service"]: a for a in items}


def test_payments_errors_name_payments_as_the_cause_of_orders_errors(
    tmp_path: Path, services: dict[str, Proc]
) -> None:
    targets = [
        ScrapeTarget("services", f"127.0.0.1:{p.port}", {"service": name})
        for name, p in services.items()
    ]
    with (
        watched(tmp_path, targets) as (_, receiver, svc),
        Load([services["orders"].url + "/orders"], json=ORDER),
    ):
        poll(
            "error_rate of orders and payments warmed up",
            lambda: (
                len(
                    [
                        s
                        for s in get(svc.url + "/predict")["series"]
                        if s["metric"] == "error_rate"
                        and s["service"] in ("orders", "payments")
                        and s["value"] is not None
                        and not s["warming_up"]
                    ]
                )
                == 2
            ),
            120,
        )
        fault = {"kind": "errors", "rate": 0.6}
        resp = httpx.post(services["payments"].url + "/chaos", json=fault, timeout=5)
        assert resp.status_code == 201, resp.text
        both = poll(
            "error anomalies on orders and payments",
            lambda: (a := active_errors(svc.url)).keys() >= {"orders", "payments"} and a,
            90,
        )
        orders, payments = both["orders"], both["payments"]
        print(f"orders: caused_by={orders['caused_by']} evidence={orders['cause_evidence']}")
        assert orders["caused_by"] == ["payments"]
        assert orders["root_causes"] == ["payments"]
        (evidence,) = orders["cause_evidence"]
        assert evidence["callee"] == "payments"
        assert evidence["signal"] == "edge_failures"
        assert evidence["value"] >= 0.05
        assert payments["caused_by"] == []
        # The first event about orders' errors already says so: a policy engine reading it
        # can leave orders alone.
        firing = poll(
            "orders' firing event",
            lambda: [
                p["alerts"][0]
                for p in receiver.payloads()
                if p["status"] == "firing"
                and p["alerts"][0]["labels"]["service"] == "orders"
                and p["alerts"][0]["labels"]["metric"] == "error_rate"
            ],
            30,
        )
        assert firing[0]["annotations"].get("caused_by") == "payments", firing[0]
        rows = [
            s
            for s in get(svc.url + "/predict")["series"]
            if s["service"] == "orders" and s["metric"] == "error_rate"
        ]
        assert rows[0]["caused_by"] == ["payments"]
        httpx.delete(services["payments"].url + "/chaos", timeout=5)
