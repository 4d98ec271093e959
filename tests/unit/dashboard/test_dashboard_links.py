"""Links out: Jaeger search windows and Prometheus graph URLs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from dashboard.links import PublicLinks, jaeger_search, prometheus_graph, signal_query
from dashboard.poller import extract_catalog_queries


def test_jaeger_search_window_is_in_microseconds_around_the_anomaly() -> None:
    url = jaeger_search("http://j:16686/", "orders", start=1000.0, end=1100.0)
    parts = urlsplit(url)
    assert parts.path == "/search"
    q = parse_qs(parts.query)
    assert q["service"] == ["orders"] and q["lookback"] == ["custom"]
    assert q["start"] == [str(940 * 10**6)] and q["end"] == [str(1160 * 10**6)]


def test_jaeger_search_without_times_looks_back_an_hour() -> None:
    q = parse_qs(urlsplit(jaeger_search("http://j", "users")).query)
    assert q["lookback"] == ["1h"] and "start" not in q


def test_prometheus_graph_encodes_the_query() -> None:
    query = 'sum by (service) (rate(x{service="orders"}[1m]))'
    url = prometheus_graph("http://p:9090", query)
    assert url.startswith("http://p:9090/graph?g0.expr=")
    assert parse_qs(urlsplit(url).query)["g0.expr"] == [query]


def test_signal_query_prefers_the_catalog_and_knows_the_defaults() -> None:
    assert signal_query("latency", "orders", {"latency": "CATALOG"}) == "CATALOG"
    default = signal_query("memory", "users")
    assert default is not None and 'service="users"' in default
    assert signal_query("unknown_metric", "users") is None


def test_anomaly_links_handle_missing_fields() -> None:
    links = PublicLinks("http://g", "/d/x", "http://j", "http://p")
    out = links.for_anomaly({"metric": "nope"})
    assert out == {"jaeger": None, "prometheus": None}


def test_catalog_queries_are_found_in_models() -> None:
    models = {
        "detector": {"alpha": 0.1},
        "catalog": [{"name": "latency", "query": "q1"}, {"name": "cpu", "query": "q2"}],
    }
    assert extract_catalog_queries(models) == {"latency": "q1", "cpu": "q2"}
    assert extract_catalog_queries(["garbage", 1, None]) == {}
