from chaos_simulator.stats import Outcome, Stats, percentile


def test_percentile_interpolates_and_handles_edges() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.5
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert abs(percentile(values, 99) - 99.01) < 1e-9  # type: ignore[operator]


def test_summary_counts_5xx_and_transport_failures_not_4xx() -> None:
    stats = Stats()
    stats.add(Outcome("a", 200, 0.010))
    stats.add(Outcome("a", 404, 0.020))
    stats.add(Outcome("b", 503, 0.030))
    stats.add(Outcome("b", None, 0.040, "ConnectError"))
    stats.observe_in_flight(3)
    stats.observe_in_flight(1)
    s = stats.summary(2.0)
    assert s["requests"] == 4
    assert s["rate_rps"] == 2.0
    assert s["failed"] == 2
    assert s["error_pct"] == 50.0
    assert s["client_errors"] == 1
    assert s["peak_in_flight"] == 3
    assert s["status_codes"] == {"200": 1, "404": 1, "503": 1, "none": 1}
    assert s["errors"] == {"ConnectError": 1}
    assert s["by_endpoint"] == {"a": 2, "b": 2}
    assert s["latency_ms"]["p50"] == 25.0
    assert s["latency_ms"]["max"] == 40.0


def test_empty_summary_has_no_percentiles_and_no_division_error() -> None:
    s = Stats().summary(0.0)
    assert s["requests"] == 0
    assert s["rate_rps"] == 0.0
    assert s["error_pct"] == 0.0
    assert s["latency_ms"]["p99"] is None
