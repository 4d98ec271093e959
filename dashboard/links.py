"""Pure builders of the links out to Grafana, Jaeger and Prometheus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

# PromQL of the default catalog signals (contracts.md metric names), used to link an anomaly to
# Prometheus when the anomaly service does not expose its own query for the metric.
DEFAULT_QUERIES = {
    "latency": "histogram_quantile(0.99, sum by (service, le) (rate("
    'http_server_request_duration_seconds_bucket{{service="{service}"}}[1m])))',
    "error_rate": "sum by (service) (rate(http_server_request_duration_seconds_count"
    '{{service="{service}",status_code=~"5.."}}[1m])) / sum by (service) (rate('
    'http_server_request_duration_seconds_count{{service="{service}"}}[1m]))',
    "cpu": 'sum by (service) (rate(process_cpu_seconds_total{{service="{service}"}}[1m]))',
    "memory": 'sum by (service) (process_resident_memory_bytes{{service="{service}"}})',
    "request_rate": "sum by (service) (rate("
    'http_server_request_duration_seconds_count{{service="{service}"}}[1m]))',
    "availability": 'avg by (service) (up{{service="{service}"}})',
}


@dataclass
class PublicLinks:
    """Where the user's browser reaches Grafana, Jaeger and Prometheus."""

    grafana_url: str
    grafana_path: str
    jaeger_url: str
    prometheus_url: str
    catalog_queries: dict[str, str] = field(default_factory=dict)

    def base(self) -> dict[str, str]:
        return {
            "grafana": self.grafana_url.rstrip("/") + self.grafana_path,
            "jaeger": self.jaeger_url.rstrip("/") + "/search",
            "prometheus": self.prometheus_url.rstrip("/") + "/graph",
        }

    def for_service(self, service: str) -> dict[str, str]:
        return {"jaeger": jaeger_search(self.jaeger_url, service)}

    def for_anomaly(self, anomaly: dict[str, Any]) -> dict[str, str | None]:
        service = str(anomaly.get("service") or "")
        metric = str(anomaly.get("metric") or "")
        opened = anomaly.get("opened_at")
        resolved = anomaly.get("resolved_at")
        start = float(opened) if isinstance(opened, int | float) else None
        end = float(resolved) if isinstance(resolved, int | float) else None
        query = signal_query(metric, service, self.catalog_queries)
        return {
            "jaeger": jaeger_search(self.jaeger_url, service, start, end) if service else None,
            "prometheus": prometheus_graph(self.prometheus_url, query) if query else None,
        }


def jaeger_search(
    jaeger_url: str, service: str, start: float | None = None, end: float | None = None
) -> str:
    """Jaeger trace search for a service, around [start, end] (Unix seconds) when given."""
    params: dict[str, str] = {"service": service, "limit": "20"}
    if start is not None:
        # Jaeger takes microseconds; widen by a minute each side to catch the slow traces.
        params["start"] = str(int((start - 60) * 1e6))
        params["end"] = str(int(((end if end is not None else start + 600) + 60) * 1e6))
        params["lookback"] = "custom"
    else:
        params["lookback"] = "1h"
    return jaeger_url.rstrip("/") + "/search?" + urlencode(params)


def prometheus_graph(prometheus_url: str, query: str, range_input: str = "1h") -> str:
    params = {"g0.expr": query, "g0.tab": "0", "g0.range_input": range_input}
    return prometheus_url.rstrip("/") + "/graph?" + urlencode(params, quote_via=quote)


def signal_query(metric: str, service: str, catalog: dict[str, str] | None = None) -> str | None:
    """The PromQL of a signal: the anomaly service's own when known, else the default catalog."""
    if catalog and metric in catalog:
        return catalog[metric]
    template = DEFAULT_QUERIES.get(metric)
    return template.format(service=service) if template else None
