"""The Prometheus HTTP adapter: parsing, rejected queries vs. an unreachable server."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from anomaly_service.prometheus import PrometheusAdapter, PrometheusUnavailable, QueryRejected

Handler = Callable[[httpx.Request], httpx.Response]


def call(handler: Handler, method: str, *args: Any) -> Any:
    async def go() -> Any:
        adapter = PrometheusAdapter(
            "http://prom:9090/", 1.0, transport=httpx.MockTransport(handler)
        )
        try:
            return await getattr(adapter, method)(*args)
        finally:
            await adapter.aclose()

    return asyncio.run(go())


def answer(status: int, body: Any) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return handler


def test_instant_vector_with_nan_values() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [
                        {"metric": {"service": "orders"}, "value": [1.0, "0.25"]},
                        {"metric": {"service": "users"}, "value": [1.0, "NaN"]},
                    ],
                },
            },
        )

    samples = call(handler, "query", 'max by (service) (x{job="services"})')
    assert seen[0].url.path == "/api/v1/query"
    assert seen[0].url.params["query"] == 'max by (service) (x{job="services"})'
    assert samples[0].labels == {"service": "orders"}
    assert samples[0].value == 0.25
    assert math.isnan(samples[1].value)


def test_range_matrix() -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"service": "orders"}, "values": [[10.0, "1"], [15.0, "2"]]}],
        },
    }
    (series,) = call(answer(200, body), "query_range", "x", 0.0, 20.0, 5.0)
    assert series.timestamps == [10.0, 15.0]
    assert series.values == [1.0, 2.0]


def test_bad_promql_is_rejected_with_prometheus_reason() -> None:
    body = {
        "status": "error",
        "errorType": "bad_data",
        "error": "1:5: parse error: unexpected end of input",
    }
    with pytest.raises(QueryRejected) as info:
        call(answer(400, body), "query", "sum(")
    assert "parse error: unexpected end of input" in info.value.reason


@pytest.mark.parametrize(
    "handler",
    [
        answer(503, {"status": "error", "errorType": "unavailable", "error": "not ready"}),
        lambda r: httpx.Response(502, text="<html>bad gateway</html>"),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
    ],
)
def test_unreachable_or_garbage_is_unavailable(handler: Handler) -> None:
    with pytest.raises(PrometheusUnavailable):
        call(handler, "query", "up")


def test_non_vector_result_is_rejected() -> None:
    body = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    with pytest.raises(QueryRejected, match="instant vector"):
        call(answer(200, body), "query", "up[5m]")


def test_start_time_from_runtimeinfo_and_not_asked_again_where_missing() -> None:
    body = {"status": "success", "data": {"startTime": "2026-11-30T09:53:47.911161018Z"}}
    assert call(answer(200, body), "start_time") == "2026-11-30T09:53:47.911161018Z"
    asked: list[str] = []

    def missing(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(404, text="404 page not found")

    async def twice() -> list[str | None]:
        adapter = PrometheusAdapter("http://vm:8428", 1.0, transport=httpx.MockTransport(missing))
        try:
            return [await adapter.start_time(), await adapter.start_time()]
        finally:
            await adapter.aclose()

    # A PromQL-compatible server without the endpoint: no start time, asked once.
    assert asyncio.run(twice()) == [None, None]
    assert asked == ["/api/v1/status/runtimeinfo"]

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(PrometheusUnavailable):
        call(refused, "start_time")
