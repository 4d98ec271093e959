"""The anomaly service's /predict snapshot: parsing (pure) and a small HTTP client (adapter)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from policy_engine.conditions import METRICS, SEVERITIES, Context
from policy_engine.models import finite_or_none


@dataclass(frozen=True)
class Series:
    service: str
    metric: str
    value: float | None
    severity: str
    kind: str | None
    anomaly_id: str | None
    caused_by: tuple[str, ...] = ()  # callees the anomaly service blames for this series
    caused_by_load: bool = False  # started while its traffic and CPU were above their bands

    @property
    def level(self) -> int:
        return SEVERITIES.get(self.severity, 0)


@dataclass(frozen=True)
class Snapshot:
    fetched_at: float
    series: tuple[Series, ...]
    cycle_at: float | None = None  # the anomaly-service cycle it shows (latest series `ts`)

    def for_service(self, service: str) -> list[Series]:
        return [s for s in self.series if s.service == service]

    def context(self, service: str) -> Context:
        """Condition context for a service: worst series per metric, worst severity overall."""
        values: dict[str, float | None] = {}
        worst: dict[str, Series] = {}
        for s in self.for_service(service):
            if s.metric not in METRICS:
                continue
            current = worst.get(s.metric)
            if current is None or s.level > current.level:
                worst[s.metric] = s
        for metric, s in worst.items():
            values[metric] = s.value
        series = self.for_service(service)
        severity = max((s.level for s in series), default=None)
        no_data = any(s.kind == "no_data" for s in series)
        victim = any(s.caused_by for s in series)
        load = any(s.caused_by_load for s in series)
        return Context(values, severity, no_data, caused_by_dependency=victim, caused_by_load=load)

    def anomaly_open(self, anomaly_id: str | None, service: str, metric: str | None) -> bool:
        """Is the anomaly (by id, else by service+metric) still abnormal in this snapshot?"""
        for s in self.for_service(service):
            if anomaly_id is not None and s.anomaly_id == anomaly_id:
                return s.severity != "normal" or s.kind is not None
            if anomaly_id is None and metric is not None and s.metric == metric:
                return s.severity != "normal"
        return False


def parse_predict(body: Any, now: float) -> Snapshot:
    """Tolerant parse of GET /predict; malformed series are dropped, not fatal."""
    if not isinstance(body, dict) or not isinstance(body.get("series"), list):
        raise ValueError("/predict answer has no 'series' list")
    out: list[Series] = []
    cycle_at: float | None = None
    for raw in body["series"]:
        if not isinstance(raw, dict):
            continue
        ts = finite_or_none(raw.get("ts"))
        if ts is not None and (cycle_at is None or ts > cycle_at):
            cycle_at = ts
        service, metric = raw.get("service"), raw.get("metric")
        if not isinstance(service, str) or not isinstance(metric, str):
            continue
        severity = raw.get("severity") if raw.get("severity") in SEVERITIES else "normal"
        kind = raw.get("kind") if raw.get("kind") in ("deviation", "no_data") else None
        anomaly_id = raw.get("anomaly_id") if isinstance(raw.get("anomaly_id"), str) else None
        blamed = raw.get("caused_by")
        caused_by = (
            tuple(c for c in blamed if isinstance(c, str)) if isinstance(blamed, list) else ()
        )
        value = finite_or_none(raw.get("value"))
        load = raw.get("caused_by_load") is True
        out.append(Series(service, metric, value, str(severity), kind, anomaly_id, caused_by, load))
    return Snapshot(now, tuple(out), cycle_at)


class SnapshotClient:
    """Fetches /predict with a timeout; returns None (and remembers why) when it cannot."""

    def __init__(self, base_url: str | None, timeout_s: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self.last_error: str | None = None

    async def fetch(self, now: float) -> Snapshot | None:
        if self.base_url is None:
            self.last_error = "ANOMALY_SERVICE_URL not set"
            return None
        try:
            response = await self._client.get(self.base_url + "/predict")
            response.raise_for_status()
            snapshot = parse_predict(response.json(), now)
        except (httpx.HTTPError, ValueError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None
        self.last_error = None
        return snapshot

    async def aclose(self) -> None:
        await self._client.aclose()
