"""The shipped latency signal on a real Prometheus: one slow request among a few per second is
not an SLO breach (busy-host runs restarted healthy services on it), three are; the histogram
is the demo services' own, its counts set by the test."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from anomaly_it_support import HistogramExporter, by_service, poll

from anomaly_service.catalog import load_catalog
from anomaly_service.config import DEFAULT_CATALOG
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = pytest.mark.prometheus

RAW_P99 = (
    "histogram_quantile(0.99, sum by (service, le) "
    '(rate(http_server_request_duration_seconds_bucket{job="services"}[15s])))'
)


def test_latency_needs_three_slow_requests_to_pass_the_floor(tmp_path: Path) -> None:
    (latency,) = [m for m in load_catalog(DEFAULT_CATALOG) if m.name == "latency"]
    assert latency.floor == 0.5
    exporter = HistogramExporter()
    target = ScrapeTarget("services", f"127.0.0.1:{exporter.port}", {"service": "orders"})
    prom = PrometheusServer(tmp_path, [target], scrape_interval="1s").start()
    try:
        prom.wait_for_targets_up(1, timeout_s=60)
        # healthy traffic: a p99 under the floor, reported (the 15 s offset needs 16 s of data)
        healthy = poll(
            "a healthy latency value",
            lambda: by_service(prom, latency.query, time.time()).get("orders"),
            60,
        )
        assert 0 < healthy < 0.5
        # past the first 15 s, so the count is "now minus 15 s ago", not a young series' total
        time.sleep(max(0.0, 17 - (time.monotonic() - exporter.started)))

        exporter.add_slow(1)

        def one_slow_seen() -> tuple[float, dict[str, float]] | None:
            at = time.time()
            raw = by_service(prom, RAW_P99, at).get("orders", 0.0)
            return (raw, by_service(prom, latency.query, at)) if raw > 0.5 else None

        raw, shipped = poll("one slow request in the raw p99", one_slow_seen, 20)
        # the raw p99 crosses the floor on one request; the shipped signal has no value
        assert raw > 0.5
        assert shipped == {}, shipped

        exporter.add_slow(3)  # four slow requests within 15 s: a breach the signal reports
        breached = poll(
            "the latency signal past the floor",
            lambda: (v := by_service(prom, latency.query, time.time()).get("orders")) and v > 0.5,
            20,
        )
        assert breached

        # Once the slow requests leave the window, the value is back under the floor.
        recovered = poll(
            "latency back under the floor",
            lambda: (v := by_service(prom, latency.query, time.time()).get("orders")) and v < 0.5,
            40,
        )
        assert recovered
    finally:
        prom.stop()
        exporter.stop()
