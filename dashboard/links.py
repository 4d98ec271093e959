"""Pure builders of the links out to Grafana, Jaeger and Prometheus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from relia_contracts.catalog import CatalogSignal, shipped_signals


@dataclass
class PublicLinks:
    """Where the user's browser reaches Grafana, Jaeger and Prometheus."""

    grafana_url: str
    grafana_path: str
    jaeger_url: str
    prometheus_url: str
    # The metric catalog: the anomaly service's (`GET /models`) once read, the shipped file's
    # until then (relia_contracts/catalog.py). Its queries link an anomaly to Prometheus; the
    # page shows the signals in its order.
    catalog: tuple[CatalogSignal, ...] = field(default_factory=shipped_signals)
    catalog_source: str = "shipped"  # shipped | anomaly-service

    def base(self) -> dict[str, str]:
        return {
            "grafana": self.grafana_url.rstrip("/") + self.grafana_path,
            "jaeger": self.jaeger_url.rstrip("/") + "/search",
            "prometheus": self.prometheus_url.rstrip("/") + "/graph",
        }

    def signals(self) -> list[dict[str, str]]:
        """The catalog's signals for the page, in catalog order: name, unit, description."""
        return [s.model_dump(include={"name", "unit", "description"}) for s in self.catalog]

    def for_service(self, service: str) -> dict[str, str]:
        return {"jaeger": jaeger_search(self.jaeger_url, service)}

    def for_anomaly(self, anomaly: dict[str, Any]) -> dict[str, str | None]:
        service = str(anomaly.get("service") or "")
        metric = str(anomaly.get("metric") or "")
        opened = anomaly.get("opened_at")
        resolved = anomaly.get("resolved_at")
        start = float(opened) if isinstance(opened, int | float) else None
        end = float(resolved) if isinstance(resolved, int | float) else None
        query = next((s.query for s in self.catalog if s.name == metric and s.query), None)
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
