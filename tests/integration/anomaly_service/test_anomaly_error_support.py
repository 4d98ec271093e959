"""The shipped error_rate signal on a real Prometheus: at under a request per second one 5xx is
10-30 % of the window, a breach the shipped restart policies act on; it counts only with 3 5xx
behind it. The counters are the demo services' own series, their counts set by the test."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from anomaly_it_support import StatusExporter, by_service, poll

from anomaly_service.catalog import load_catalog
from anomaly_service.config import DEFAULT_CATALOG
from anomaly_service.dependencies import FAILURES
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = pytest.mark.prometheus

COUNT = "http_server_request_duration_seconds_count"
# how many samples of the 5xx series the last 15 s hold
SAMPLES_5XX = (
    f'sum by (service) (count_over_time({COUNT}{{job="services",status_code=~"5.."}}[15s]))'
)
RAW_RATIO = (
    f'sum by (service) (rate({COUNT}{{job="services",status_code=~"5.."}}[15s]))'
    f' / sum by (service) (rate({COUNT}{{job="services"}}[15s]))'
)


def test_error_rate_needs_three_errors_to_pass_the_floor(tmp_path: Path) -> None:
    (errors,) = [m for m in load_catalog(DEFAULT_CATALOG) if m.name == "error_rate"]
    assert errors.floor == 0.05
    exporter = StatusExporter(ok_per_s=0.6)  # 9 requests in a 15 s window
    target = ScrapeTarget("services", f"127.0.0.1:{exporter.port}", {"service": "orders"})
    prom = PrometheusServer(tmp_path, [target], scrape_interval="1s").start()
    try:
        prom.wait_for_targets_up(1, timeout_s=60)
        healthy = poll(
            "a healthy error rate",
            lambda: by_service(prom, errors.query, time.time()).get("orders") == 0.0 or None,
            60,
        )
        assert healthy
        # past the first 15 s, so the count is "now minus 15 s ago", not a young series' total
        time.sleep(max(0.0, 17 - (time.monotonic() - exporter.started)))

        exporter.add_errors(1)

        def one_error_seen() -> tuple[float, dict[str, float]] | None:
            at = time.time()
            raw = by_service(prom, RAW_RATIO, at).get("orders", 0.0)
            return (raw, by_service(prom, errors.query, at)) if raw > 0.05 else None

        raw, shipped = poll("one 5xx in the raw ratio", one_error_seen, 20)
        assert raw > 0.05  # one 5xx among 9 requests crosses the floor...
        assert shipped == {}, shipped  # ...and the shipped signal has no value

        exporter.add_errors(2)  # three within 15 s: a breach the signal reports
        breached = poll(
            "the error rate past the floor",
            lambda: (v := by_service(prom, errors.query, time.time()).get("orders")) and v > 0.05,
            20,
        )
        assert breached

        # Once the errors leave the window, the value is back to 0.
        recovered = poll(
            "the error rate back to 0",
            lambda: by_service(prom, errors.query, time.time()).get("orders") == 0.0 or None,
            40,
        )
        assert recovered
    finally:
        prom.stop()
        exporter.stop()


def test_a_first_5xx_series_counts_at_its_first_scrape(tmp_path: Path) -> None:
    # A service's first 5xx since it started creates the status series: one sample, which
    # rate() cannot use. The signal counts it at once (seen on the stack: rate() alone
    # showed payments' errors one scrape later, a 17 s detection instead of 12 s).
    (errors,) = [m for m in load_catalog(DEFAULT_CATALOG) if m.name == "error_rate"]
    exporter = StatusExporter(ok_per_s=4.0, errors_from_start=False)
    target = ScrapeTarget("services", f"127.0.0.1:{exporter.port}", {"service": "payments"})
    prom = PrometheusServer(tmp_path, [target], scrape_interval="2s").start()
    try:
        prom.wait_for_targets_up(1, timeout_s=60)
        time.sleep(max(0.0, 17 - (time.monotonic() - exporter.started)))
        assert by_service(prom, errors.query, time.time()) == {"payments": 0.0}
        added = time.time()
        exporter.add_errors(6)
        poll(
            "two samples of the 5xx series",
            lambda: by_service(prom, SAMPLES_5XX, time.time()).get("payments", 0) >= 2,
            20,
        )
        # Where the 5xx series has its first sample only, the shipped signal already shows
        # the breach; rate() alone has nothing there.
        first_sample = first_sample_at(prom, SAMPLES_5XX, "payments", added)
        shipped = by_service(prom, errors.query, first_sample).get("payments", 0.0)
        assert shipped > 0.05, shipped
        assert by_service(prom, RAW_RATIO, first_sample).get("payments", 0.0) == 0.0
    finally:
        prom.stop()
        exporter.stop()


def first_sample_at(
    prom: PrometheusServer, samples_query: str, service: str, since: float
) -> float:
    """The first time (replayed every 0.25 s from `since`) a new series has one sample."""
    for k in range(int((time.time() - since) / 0.25) + 1):
        at = since + 0.25 * k
        if by_service(prom, samples_query, at).get(service) == 1:
            return at
    raise AssertionError("the new series never had exactly one sample in its window")


def test_an_edges_first_failed_calls_count_at_their_first_scrape(tmp_path: Path) -> None:
    # orders' first failed call to users creates the client series with status 500: the edge
    # must show it on the scrape where orders' own error_rate does, or orders' anomaly opens
    # before it is known as users' victim (seen in CI: orders restarted for users' fault)
    client = "http_client_request_duration_seconds"
    exporter = StatusExporter(
        ok_per_s=4.0, errors_from_start=False, histogram=client, labels='peer_service="users",'
    )
    target = ScrapeTarget("services", f"127.0.0.1:{exporter.port}", {"service": "orders"})
    prom = PrometheusServer(tmp_path, [target], scrape_interval="2s").start()
    samples = (
        f'sum by (service) (count_over_time({client}_count{{job="services",status_code="500"}}'
        "[15s]))"
    )
    rate_only = f'sum by (service) (rate({client}_count{{job="services",status_code="500"}}[15s]))'
    try:
        prom.wait_for_targets_up(1, timeout_s=60)
        time.sleep(max(0.0, 17 - (time.monotonic() - exporter.started)))
        assert by_service(prom, FAILURES, time.time()) == {}
        added = time.time()
        exporter.add_errors(6)
        poll(
            "two samples of the failed-call series",
            lambda: by_service(prom, samples, time.time()).get("orders", 0) >= 2,
            20,
        )
        first_sample = first_sample_at(prom, samples, "orders", added)
        assert by_service(prom, FAILURES, first_sample)["orders"] == pytest.approx(6 / 15)
        assert by_service(prom, rate_only, first_sample) == {}
    finally:
        prom.stop()
        exporter.stop()
