"""Prometheus HTTP API adapter (httpx, every call with a timeout)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import httpx


class PrometheusUnavailable(Exception):
    """Prometheus could not be reached or answered garbage: nothing is known this cycle."""


class QueryRejected(Exception):
    """Prometheus answered but rejected this query (bad PromQL); `reason` is its own message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float  # may be NaN/Inf as Prometheus sent it; the caller decides


@dataclass(frozen=True)
class RangeSeries:
    labels: dict[str, str]
    timestamps: list[float]
    values: list[float]


class PrometheusSource(Protocol):
    """What the cycle needs from Prometheus; tests inject their own."""

    async def query(self, promql: str, at: float | None = None) -> list[Sample]: ...

    async def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[RangeSeries]: ...

    async def aclose(self) -> None: ...


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


class PrometheusAdapter:
    """Talks to any PromQL-compatible /api/v1 endpoint."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 4.0,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Auth and tenant headers (X-Scope-OrgID) of Thanos/Mimir/Cortex/VictoriaMetrics.
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            headers=headers or {},
        )
        self._no_runtimeinfo = False

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"{self.base_url}: {type(exc).__name__}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise PrometheusUnavailable(
                f"{self.base_url}: HTTP {response.status_code}, body is not JSON"
            ) from None
        if not isinstance(body, dict):
            raise PrometheusUnavailable(f"{self.base_url}: unexpected answer")
        if body.get("status") != "success":
            error_type = str(body.get("errorType", ""))
            reason = str(body.get("error", f"HTTP {response.status_code}"))
            # bad_data / execution errors are about this query; anything else is the server.
            if response.status_code in (400, 422) or error_type in ("bad_data", "execution"):
                raise QueryRejected(f"{error_type}: {reason}" if error_type else reason)
            raise PrometheusUnavailable(f"{self.base_url}: {error_type or 'error'}: {reason}")
        return body.get("data", {})

    async def query(self, promql: str, at: float | None = None) -> list[Sample]:
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = await self._get("/api/v1/query", params)
        kind = data.get("resultType")
        result = data.get("result", [])
        if kind == "scalar":
            return [Sample({}, _float(result[1]))]
        if kind != "vector":
            raise QueryRejected(f"query must return an instant vector, got {kind}")
        return [Sample(dict(item.get("metric", {})), _float(item["value"][1])) for item in result]

    async def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[RangeSeries]:
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}"}
        data = await self._get("/api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise QueryRejected(f"range query must return a matrix, got {data.get('resultType')}")
        out = []
        for item in data.get("result", []):
            points = item.get("values", [])
            out.append(
                RangeSeries(
                    dict(item.get("metric", {})),
                    [float(p[0]) for p in points],
                    [_float(p[1]) for p in points],
                )
            )
        return out

    async def start_time(self) -> str | None:
        """Prometheus' own process start time (`/api/v1/status/runtimeinfo` `startTime`), to
        tell a restart the cycles did not see. None when it cannot be told this time; a server
        without that endpoint (other PromQL-compatible servers) is not asked again."""
        if self._no_runtimeinfo:
            return None
        try:
            response = await self._client.get("/api/v1/status/runtimeinfo")
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"{self.base_url}: {type(exc).__name__}: {exc}") from None
        if response.status_code in (404, 405, 501):
            self._no_runtimeinfo = True
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        data = body.get("data") if isinstance(body, dict) else None
        started = data.get("startTime") if isinstance(data, dict) else None
        if response.is_success and not (isinstance(started, str) and started):
            self._no_runtimeinfo = True  # answers, but not with a start time
            return None
        return started if isinstance(started, str) and started else None

    async def ping(self) -> bool:
        try:
            response = await self._client.get("/-/ready")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        await self._client.aclose()
