"""Adapters against an in-memory transport: bad answers become clear errors, not tracebacks."""

import asyncio

import httpx
import pytest

from chaos_simulator.client import ApiError, ServiceApi
from chaos_simulator.targets import TargetUnreachable


def api(handler) -> tuple[ServiceApi, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ServiceApi(client, "orders", "http://orders.test"), client


def run(coro_fn, handler):
    async def main():
        service, client = api(handler)
        async with client:
            return await coro_fn(service)

    return asyncio.run(main())


def test_non_json_and_wrong_shapes_are_api_errors() -> None:
    with pytest.raises(ApiError, match="not JSON"):
        run(lambda s: s.faults(), lambda r: httpx.Response(200, text="<html>gateway</html>"))
    with pytest.raises(ApiError, match="not a fault list"):
        run(lambda s: s.faults(), lambda r: httpx.Response(200, json={"faults": "none"}))
    with pytest.raises(ApiError, match="no fault id"):
        run(lambda s: s.inject({"kind": "hang"}), lambda r: httpx.Response(201, json={}))


def test_validation_errors_carry_the_services_message() -> None:
    body = {"detail": [{"loc": ["body", "ms"], "msg": "must be > 0", "type": "value_error"}]}
    with pytest.raises(ApiError, match=r"HTTP 422: ms: must be > 0"):
        run(
            lambda s: s.inject({"kind": "latency", "ms": 1}),
            lambda r: httpx.Response(422, json=body),
        )


def test_connection_failures_name_the_target() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(TargetUnreachable, match=r"orders at http://orders.test is unreachable"):
        run(lambda s: s.faults(), refuse)
    health = run(lambda s: s.health(), refuse)
    assert health["ok"] is False
    assert "connection refused" in health["error"]


def test_clear_by_id_distinguishes_missing_faults() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if request.url.path.endswith("/f-1") else 404, json={})

    assert run(lambda s: s.clear("f-1"), handler) == 1
    assert run(lambda s: s.clear("f-2"), handler) == 0
