"""Links out: Jaeger search windows and Prometheus graph URLs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard.links import PublicLinks, jaeger_search, prometheus_graph
from dashboard.poller import extract_catalog
from relia_contracts.catalog import CatalogReadError, CatalogSignal, shipped_signals


def test_jaeger_search_window_is_in_microseconds_around_the_anomaly() -> None:
    url = jaeger_search("http://j:16686/", "orders", start=1000.0, end=1100.0)
    parts = urlsplit(url)
    assert parts.path == "/search"
    q = parse_qs(parts.query)
    assert q["service"] == ["orders"]
    assert q["lookback"] == ["custom"]
    assert q["start"] == [str(940 * 10**6)]
    assert q["end"] == [str(1160 * 10**6)]


def test_jaeger_search_without_times_looks_back_an_hour() -> None:
    q = parse_qs(urlsplit(jaeger_search("http://j", "users")).query)
    assert q["lookback"] == ["1h"]
    assert "start" not in q


def test_prometheus_graph_encodes_the_query() -> None:
    query = 'sum by (service) (rate(x{service="orders"}[1m]))'
    url = prometheus_graph("http://p:9090", query)
    assert url.startswith("http://p:9090/graph?g0.expr=")
    assert parse_qs(urlsplit(url).query)["g0.expr"] == [query]


def test_anomaly_links_use_the_catalog_and_start_from_the_shipped_file() -> None:
    links = PublicLinks("http://g", "/d/x", "http://p", "http://p")
    memory = next(s.query for s in shipped_signals() if s.name == "memory")
    shipped = links.for_anomaly({"service": "users", "metric": "memory"})["prometheus"]
    assert shipped is not None
    assert parse_qs(urlsplit(shipped).query)["g0.expr"] == [memory]
    links.catalog = (CatalogSignal(name="memory", query="CATALOG"),)
    live = links.for_anomaly({"service": "users", "metric": "memory"})["prometheus"]
    assert live is not None
    assert parse_qs(urlsplit(live).query)["g0.expr"] == ["CATALOG"]
    assert links.for_anomaly({"service": "users", "metric": "unknown"})["prometheus"] is None


def test_anomaly_links_handle_missing_fields() -> None:
    links = PublicLinks("http://g", "/d/x", "http://j", "http://p")
    out = links.for_anomaly({"metric": "nope"})
    assert out == {"jaeger": None, "prometheus": None}


def test_catalog_is_read_from_models_in_order() -> None:
    models = {
        "detector": {"alpha": 0.1},
        "catalog": [
            {"name": "latency", "query": "q1", "unit": "seconds", "floor": 0.5},
            {"name": "cpu", "query": "q2"},
        ],
    }
    signals = extract_catalog(models)
    assert [(s.name, s.query, s.unit) for s in signals] == [
        ("latency", "q1", "seconds"),
        ("cpu", "q2", ""),
    ]


@pytest.mark.parametrize(
    "models",
    [["garbage", 1, None], {"catalog": []}, {"catalog": [{"query": "no name"}]}, {}],
)
def test_an_unusable_models_answer_is_an_error_naming_it(models: object) -> None:
    with pytest.raises(CatalogReadError, match="GET /models"):
        extract_catalog(models)
