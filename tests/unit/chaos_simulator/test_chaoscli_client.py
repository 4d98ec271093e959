"""The platform client at its HTTP boundary (httpx.MockTransport): what each typed call sends,
what it makes of the answers, that every call carries its timeout, and clear errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from chaos_simulator.client import (
    ApiError,
    EngineStatus,
    FaultError,
    FaultRecord,
    PlatformClient,
    Targets,
    TargetUnreachable,
)
from relia_contracts.faults import ErrorsFault, LatencyFault

TARGETS = Targets(
    services={"orders": "http://orders.test"},
    anomaly_url="http://anomaly.test",
    policy_url="http://policy.test/",
    policy_token="s3cret",
)
Handler = Callable[[httpx.Request], httpx.Response]


def call(handler: Handler, fn: Callable[[PlatformClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fn(PlatformClient(TARGETS, client))

    return asyncio.run(main())


class Recorder:
    """Answers every request with one response and keeps the requests."""

    def __init__(self, status: int = 200, body: Any = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status, self.body = status, body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)

    @property
    def sent(self) -> Any:
        content = self.requests[-1].content
        return json.loads(content) if content else None


FAULT = {"id": "f-1", "kind": "latency", "params": {"ms": 800.0}, "duration_s": None,
         "started_at": 1.0, "expires_at": None, "replica": "orders-1"}  # fmt: skip


def test_inject_sends_the_model_as_set_and_returns_a_typed_record() -> None:
    rec = Recorder(201, FAULT)
    record = call(rec, lambda p: p.service("orders").inject(LatencyFault(kind="latency", ms=800)))
    assert rec.requests[0].method == "POST"
    assert rec.requests[0].url == "http://orders.test/chaos"
    assert rec.sent == {"kind": "latency", "ms": 800}
    assert isinstance(record, FaultRecord)
    assert record.id == "f-1"
    assert record.expires_at is None
    assert record.model_dump()["replica"] == "orders-1"  # fields the client does not know stay


def test_a_mapping_is_sent_as_given_once_the_services_model_accepts_it() -> None:
    rec = Recorder(201, FAULT)
    call(rec, lambda p: p.service("orders").inject({"kind": "errors", "rate": 0.5}))
    assert rec.sent == {"kind": "errors", "rate": 0.5}


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "latency", "ms": 60_001}, "ms: Input should be less than or equal to 60000"),
        ({"kind": "memory", "mb_per_s": 1, "max_mb": 1.5}, "max_mb"),
        ({"kind": "errors", "rate": 0.5, "stauts": 503}, "stauts: Extra inputs"),
        ({"kind": "teleport"}, "teleport"),
    ],
)
def test_a_fault_the_services_would_refuse_is_never_sent(fault: dict[str, Any], message: str):
    rec = Recorder(201, FAULT)
    with pytest.raises(FaultError, match=message):
        call(rec, lambda p: p.service("orders").inject(fault))
    assert rec.requests == []


def test_anomaly_filters_become_query_parameters_and_none_is_left_out() -> None:
    rec = Recorder(200, {"items": [{"id": "a-1"}], "total": 1})
    items = call(
        rec,
        lambda p: p.anomaly.anomalies(
            service="orders", metric="latency", severity="warning", status="active", since=12.5
        ),
    )
    assert items == [{"id": "a-1"}]
    params = dict(rec.requests[0].url.params)
    assert params == {"limit": "100", "service": "orders", "metric": "latency",
                      "severity": "warning", "status": "active", "since": "12.5"}  # fmt: skip


def test_action_filters_and_the_token_on_policy_engine_calls() -> None:
    rec = Recorder(200, {"items": [{"id": "act-1", "outcome": "succeeded"}]})
    call(rec, lambda p: p.policy.actions(service="orders", action="restart_container", offset=5))
    request = rec.requests[0]
    assert request.url.path == "/actions"
    assert request.url.host == "policy.test"
    assert dict(request.url.params) == {
        "limit": "100", "service": "orders", "action": "restart_container", "offset": "5"
    }  # fmt: skip
    assert request.headers["authorization"] == "Bearer s3cret"


def test_toggle_sets_or_flips_and_returns_the_new_state() -> None:
    rec = Recorder(200, {"enabled": False})
    assert call(rec, lambda p: p.policy.toggle(False)) is False
    assert rec.sent == {"enabled": False}
    assert call(rec, lambda p: p.policy.toggle()) is False
    assert rec.sent is None  # an empty body flips
    assert all(r.url.path == "/toggle" and r.method == "POST" for r in rec.requests)
    with pytest.raises(ApiError, match="no enabled flag"):
        call(Recorder(200, {"ok": True}), lambda p: p.policy.toggle(True))
    with pytest.raises(ApiError, match="HTTP 401: missing token"):
        call(Recorder(401, {"detail": "missing token"}), lambda p: p.policy.toggle(True))


def test_status_keeps_the_whole_document_and_policies_are_the_items() -> None:
    policies = {"valid": False, "version": "v1", "error": {"message": "bad"}, "count": 3}
    doc = {"enabled": True, "dry_run": True, "ready": True, "policies": policies}
    status = call(Recorder(200, doc), lambda p: p.policy.status())
    assert isinstance(status, EngineStatus)
    assert status.dry_run is True
    assert status.model_dump() == doc
    assert status.policies is not None
    assert status.policies.valid is False
    assert (status.policies.version, status.policies.error) == ("v1", {"message": "bad"})
    views = call(
        Recorder(200, {"valid": True, "items": [{"name": "x"}]}), lambda p: p.policy.policies()
    )
    assert views == [{"name": "x"}]


@pytest.mark.parametrize(
    ("fn", "body", "message"),
    [
        (lambda p: p.policy.policies(), {"items": "none"}, "GET /policies is not a list"),
        (lambda p: p.anomaly.anomalies(), ["a-1"], "GET /anomalies is not a list"),
        (lambda p: p.policy.actions(), {"total": 0}, "GET /actions is not a list"),
        (lambda p: p.policy.status(), {"enabled": "perhaps"}, "GET /status: not a status"),
        (lambda p: p.anomaly.predict(), [1, 2], "GET /predict is not a snapshot"),
        (lambda p: p.anomaly.anomaly("a-1"), "a-1", "not an anomaly"),
    ],
)
def test_unexpected_shapes_are_api_errors_naming_the_call(fn, body, message) -> None:
    with pytest.raises(ApiError, match=message):
        call(Recorder(200, body), fn)


CALLS: list[Callable[[PlatformClient], Awaitable[Any]]] = [
    lambda p: p.service("orders").inject(ErrorsFault(kind="errors", rate=0.1), timeout_s=0.25),
    lambda p: p.service("orders").faults(timeout_s=0.25),
    lambda p: p.service("orders").clear(timeout_s=0.25),
    lambda p: p.service("orders").clear("f-1", timeout_s=0.25),
    lambda p: p.service("orders").health(timeout_s=0.25),
    lambda p: p.anomaly.health(timeout_s=0.25),
    lambda p: p.anomaly.anomalies(timeout_s=0.25),
    lambda p: p.anomaly.anomaly("a-1", timeout_s=0.25),
    lambda p: p.anomaly.predict(timeout_s=0.25),
    lambda p: p.policy.status(timeout_s=0.25),
    lambda p: p.policy.policies(timeout_s=0.25),
    lambda p: p.policy.actions(timeout_s=0.25),
    lambda p: p.policy.toggle(True, timeout_s=0.25),
    lambda p: p.anomaly.ready(timeout_s=0.25),
    lambda p: p.anomaly.triage("a-1", timeout_s=0.25),
    lambda p: p.anomaly.series(timeout_s=0.25),
    lambda p: p.anomaly.catalog(timeout_s=0.25),
    lambda p: p.anomaly.label("a-1", "noise", "why", timeout_s=0.25),
    lambda p: p.anomaly.feedback(timeout_s=0.25),
]

SERVICE_HEALTH = CALLS[4]


@pytest.mark.parametrize("fn", CALLS)
def test_every_call_carries_its_timeout(fn) -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        raise httpx.ReadTimeout("no answer", request=request)

    if fn is SERVICE_HEALTH:
        assert call(handler, fn)["ok"] is False  # health reports a dead service, it does not raise
    else:
        with pytest.raises(TargetUnreachable, match="is unreachable") as caught:
            call(handler, fn)
        assert "ReadTimeout" in str(caught.value)
    assert seen
    assert all(t["read"] == 0.25 and t["connect"] == 0.25 for t in seen)


def test_an_unknown_service_is_named() -> None:
    with pytest.raises(ValueError, match="unknown service 'billing'; known: orders"):
        call(Recorder(), lambda p: p.service("billing").faults())
