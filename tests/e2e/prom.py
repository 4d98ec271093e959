"""The suite's own view of the signals: PromQL on the stack's Prometheus, read independently of
the anomaly service (it is test-side observation, not the platform's API), and the verdicts
checked against what the host delivered."""

from __future__ import annotations

from typing import Any

import httpx

from anomaly_service.catalog import load_catalog
from anomaly_service.config import DEFAULT_CATALOG
from chaos_simulator.client import Record
from tests.e2e.sync_client import SyncPlatform

PROMETHEUS = "http://127.0.0.1:9090"
CPU_QUERY = 'avg(rate(process_cpu_seconds_total{{job="services",service="{service}"}}[15s]))'


class Prometheus:
    """Instant and range queries, and the scrape targets (every call has a timeout)."""

    def __init__(self, url: str = PROMETHEUS) -> None:
        self.http = httpx.Client(base_url=url, timeout=5.0)

    def close(self) -> None:
        self.http.close()

    def _data(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()["data"]

    def query(self, query: str) -> list[dict[str, Any]]:
        return list(self._data("/api/v1/query", query=query)["result"])

    def value(self, query: str) -> float | None:
        result = self.query(query)
        return float(result[0]["value"][1]) if result else None

    def query_range(self, query: str, start: float, end: float, step: float) -> list[Record]:
        return list(
            self._data("/api/v1/query_range", query=query, start=start, end=end, step=step)[
                "result"
            ]
        )

    def targets(self) -> list[Record]:
        return list(self._data("/api/v1/targets")["activeTargets"])

    def p99(self, service: str, window: str = "15s") -> float | None:
        return self.value(
            "histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket"
            f'{{job="services",service="{service}"}}[{window}])))'
        )

    def host_evidence(self, end: float, span_s: float = 90.0) -> str:
        """Every service's p99 and CPU wait (s/s) over the `span_s` before `end`, every 5 s:
        what a failure on a busy host needs to tell the host's slowness from a fault."""
        # the anomaly service's own queries for these signals, from the shipped catalog
        queries = {m.name: m.query for m in load_catalog(DEFAULT_CATALOG)}
        out = []
        for name in ("latency", "cpu_wait"):
            query = queries[name]
            try:
                rows = self.query_range(query, end - span_s, end, 5.0)
            except httpx.HTTPError as exc:
                out.append(f"{name}: ({exc!r})")
                continue
            for row in rows:
                values = " ".join(f"{float(v):.2f}" for _, v in row["values"])
                out.append(f"{row['metric'].get('service')} {name} [{values}]")
        return "; ".join(out)

    def error_ratio(self, service: str, window: str = "15s") -> float | None:
        sel = f'job="services",service="{service}"'
        return self.value(
            f'(sum(rate(http_server_request_duration_seconds_count{{{sel},status_code=~"5.."}}'
            f"[{window}])) or vector(0)) / sum(rate(http_server_request_duration_seconds_count"
            f"{{{sel}}}[{window}]))"
        )


def signal_left_its_band(api: SyncPlatform, prom: Prometheus, anomaly: Record) -> str | None:
    """Read the anomaly's signal back from Prometheus, independently of the anomaly service, over
    the cycles before it opened; None when no point lay outside the band the anomaly reports
    and the signal did not stay beyond its floor/SLO for the 30 s before (a sustained breach:
    docs/detector.md) -- the detector then raised it on a signal that did not deviate --,
    else what was seen."""
    detail = api.run(api.client.anomaly.anomaly(anomaly["id"]))
    catalog = api.run(api.client.anomaly.catalog())
    spec = next((m for m in catalog if m["name"] == anomaly["metric"]), None)
    evidence = detail.get("evidence") or {}
    if spec is None or not evidence.get("timestamps"):
        return None
    opened = float(anomaly["opened_at"])
    series = prom.query_range(spec["query"], opened - 30, opened + 5, 5)
    values = next(
        ([(float(t), float(v)) for t, v in s["values"]] for s in series
         if s["metric"].get("service") == anomaly["service"]),
        [],
    )  # fmt: skip
    stamps = evidence["timestamps"]
    for at, value in values:
        i = min(range(len(stamps)), key=lambda k: abs(stamps[k] - at))
        lower, upper = evidence["lower"][i], evidence["upper"][i]
        above = spec["direction"] in ("up", "both") and upper is not None and value > upper
        below = spec["direction"] in ("down", "both") and lower is not None and value < lower
        if above or below:
            return f"{value:.4g} outside [{lower:.4g}, {upper:.4g}] at {at - opened:+.0f}s"
    return beyond_floor_throughout(spec, [(at, v) for at, v in values if at <= opened], opened)


def beyond_floor_throughout(
    spec: dict[str, Any], values: list[tuple[float, float]], opened: float
) -> str | None:
    """What was seen when every point of the 30 s before `opened` lay beyond the floor."""
    floor, direction = spec.get("floor"), spec["direction"]
    if floor is None or direction not in ("up", "down") or len(values) < 6:
        return None
    last = [v for _, v in values[-6:]]
    if not all(v >= floor if direction == "up" else v <= floor for v in last):
        return None
    low, high = min(last), max(last)
    return f"{low:.4g}-{high:.4g} beyond the floor {floor:.4g} for 30 s before {opened:.0f}"


def cpu_hold(prom: Prometheus, service: str, start: float, end: float, above: float) -> tuple[
    float, float
]:  # fmt: skip
    """What the host gave `service` between two times, read from Prometheus at the 5 s scrape:
    the longest time its CPU stayed above `above` cores, and its peak."""
    rows = prom.query_range(CPU_QUERY.format(service=service), start, end, 5)
    points = [(float(t), float(v)) for t, v in rows[0]["values"]] if rows else []
    longest, run_start = 0.0, None
    for at, value in points:
        if value > above:
            run_start = at if run_start is None else run_start
            longest = max(longest, at - run_start)
        else:
            run_start = None
    return longest, max((v for _, v in points), default=float("nan"))
