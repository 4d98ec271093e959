"""The shipped `availability` query against a real Prometheus: a replica that is removed (its
scrapes fail until service discovery drops it) is not an outage; one that stays unreachable is."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from anomaly_it_support import GaugeExporter

from anomaly_service.catalog import load_catalog
from anomaly_service.config import DEFAULT_CATALOG
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = pytest.mark.prometheus

QUERY = next(m.query for m in load_catalog(DEFAULT_CATALOG) if m.name == "availability")


def replica(exporter: GaugeExporter, service: str, number: int) -> ScrapeTarget:
    labels = {"service": service, "replica": str(number)}
    return ScrapeTarget("services", f"127.0.0.1:{exporter.port}", labels)


def availability(prom: PrometheusServer) -> dict[str, float]:
    return {r["metric"]["service"]: float(r["value"][1]) for r in prom.query(QUERY)}


def test_removed_replica_is_not_an_outage_but_an_unreachable_one_is(tmp_path: Path) -> None:
    orders = [GaugeExporter(1.0), GaugeExporter(1.0)]
    payments = [GaugeExporter(1.0), GaugeExporter(1.0)]
    kept = [replica(orders[0], "orders", 1), replica(payments[0], "payments", 1)]
    leaving = [replica(orders[1], "orders", 2), replica(payments[1], "payments", 2)]
    # 5 s scrapes as in the stack, so the query's window spans the same number of scrapes.
    prom = PrometheusServer(tmp_path, kept + leaving, "5s", file_sd=True).start()
    try:
        prom.wait_for_targets_up(4, timeout_s=30)
        assert availability(prom) == {"orders": 1.0, "payments": 1.0}

        # Both second replicas stop answering. orders' is then removed as a scale-down removes
        # it: its scrapes fail for two intervals before discovery drops it (and Prometheus
        # applies that up to 5 s later). payments' stays a target: an outage.
        orders[1].stop()
        payments[1].stop()
        stopped = time.monotonic()
        seen: list[dict[str, float]] = []
        removed = False
        payments_down_after: float | None = None
        for _ in range(120):  # 0.5 s apart: at most 60 s
            elapsed = time.monotonic() - stopped
            if not removed and elapsed >= 11:
                prom.set_targets("services", [*kept, leaving[1]])
                removed = True
            seen.append(now := availability(prom))
            if payments_down_after is None and now.get("payments") == 0.5:
                payments_down_after = elapsed
            # Past the query's window, the removed replica can no longer count against orders.
            if payments_down_after is not None and elapsed > 45:
                break
            time.sleep(0.5)

        assert {s.get("orders") for s in seen} == {1.0}, seen
        # The window (30 s) plus one scrape interval, plus polling slack.
        assert payments_down_after is not None, seen
        assert payments_down_after <= 40, seen
    finally:
        prom.stop()
        for exporter in orders + payments:
            exporter.stop()
