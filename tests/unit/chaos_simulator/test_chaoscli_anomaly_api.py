"""The anomaly service's calls of the platform client, and a fault injected through a gateway
while the service restarts (httpx.MockTransport)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chaos_simulator.client import ApiError, TargetUnreachable
from relia_contracts.faults import LatencyFault
from tests.unit.chaos_simulator.test_chaoscli_client import FAULT, Recorder, call

LABEL = {"id": "fb-1", "at": 5.0, "anomaly_id": "a-1", "series_id": "s-1", "service": "orders",
         "metric": "latency", "label": "noise", "reason": "e2e", "mute_for_s": None,
         "factor_after": 1.5, "muted_until": None}  # fmt: skip
SENSITIVITY = {"series_id": "s-1", "service": "orders", "metric": "latency", "labels": {},
               "factor": 1.5, "muted_until": None, "noise": 1, "confirmed": 0,
               "updated_at": 5.0, "muted": False}  # fmt: skip


def test_ready_is_true_on_200_false_on_503_and_an_error_otherwise() -> None:
    assert call(Recorder(200, {"ready": True}), lambda p: p.anomaly.ready()) is True
    rec = Recorder(503, {"ready": False})
    assert call(rec, lambda p: p.anomaly.ready()) is False
    assert rec.requests[0].url == "http://anomaly.test/ready"
    with pytest.raises(ApiError, match="HTTP 500"):
        call(Recorder(500, {"detail": "boom"}), lambda p: p.anomaly.ready())


def test_triage_series_and_catalog_read_their_documents() -> None:
    rec = Recorder(200, {"suspected_cause": {"caused_by": ["payments"]}})
    packet = call(rec, lambda p: p.anomaly.triage("a-1"))
    assert packet["suspected_cause"]["caused_by"] == ["payments"]
    assert rec.requests[0].url.path == "/anomalies/a-1/triage"
    rows = [{"service": "orders", "metric": "latency"}, "junk"]
    assert call(Recorder(200, {"series": rows}), lambda p: p.anomaly.series()) == rows[:1]
    spec = {"name": "latency", "query": "q", "direction": "up"}
    rec = Recorder(200, {"detector": {}, "catalog": [spec]})
    assert call(rec, lambda p: p.anomaly.catalog()) == [spec]
    assert rec.requests[0].url.path == "/models"


@pytest.mark.parametrize(
    ("fn", "body", "message"),
    [
        (lambda p: p.anomaly.series(), {"series": "none"}, "no series list"),
        (lambda p: p.anomaly.catalog(), {"detector": {}}, "no catalog list"),
        (lambda p: p.anomaly.triage("a-1"), ["x"], "not a triage packet"),
        (lambda p: p.anomaly.feedback(), {"items": [{"id": 1}]}, "GET /feedback: unexpected"),
    ],
)
def test_unexpected_shapes_name_the_call(fn: Any, body: Any, message: str) -> None:
    with pytest.raises(ApiError, match=message):
        call(Recorder(200, body), fn)


def test_a_label_is_posted_and_comes_back_typed() -> None:
    rec = Recorder(201, {"feedback": LABEL, "sensitivity": SENSITIVITY})
    answer = call(rec, lambda p: p.anomaly.label("a-1", "noise", "e2e"))
    assert rec.requests[0].method == "POST"
    assert rec.requests[0].url.path == "/anomalies/a-1/feedback"
    assert rec.sent == {"label": "noise", "reason": "e2e"}
    assert answer.feedback.anomaly_id == "a-1"
    assert answer.sensitivity.factor == 1.5


def test_a_refused_label_is_an_api_error_with_the_services_reason() -> None:
    rec = Recorder(404, {"detail": "no anomaly 'a-9'"})
    with pytest.raises(ApiError, match="HTTP 404: no anomaly 'a-9'"):
        call(rec, lambda p: p.anomaly.label("a-9", "confirmed", "x"))


def test_feedback_lists_the_stored_labels() -> None:
    rec = Recorder(200, {"items": [LABEL], "total": 1, "limit": 500, "offset": 0})
    page = call(rec, lambda p: p.anomaly.feedback())
    assert [f.anomaly_id for f in page.items] == ["a-1"]
    assert dict(rec.requests[0].url.params) == {"limit": "500"}


class Flaky:
    """Answers `first` (a status, or None: no connection) `times` times, then 201."""

    def __init__(self, first: int | None, times: int) -> None:
        self.first, self.times, self.requests = first, times, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests > self.times:
            return httpx.Response(201, json=FAULT)
        if self.first is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(self.first, json={"detail": "upstream down"})


FAULT_MODEL = LatencyFault(kind="latency", ms=800)


@pytest.mark.parametrize("first", [502, 503, 504, None])
def test_inject_is_retried_while_the_gateway_has_no_service(first: int | None) -> None:
    flaky = Flaky(first, 2)
    record = call(
        flaky, lambda p: p.service("orders").inject(FAULT_MODEL, retry_s=10, retry_every_s=0.01)
    )
    assert record.id == "f-1"
    assert flaky.requests == 3


def test_inject_is_not_retried_by_default_nor_on_a_refusal_nor_past_its_time() -> None:
    flaky = Flaky(503, 1)
    with pytest.raises(ApiError, match="HTTP 503"):
        call(flaky, lambda p: p.service("orders").inject(FAULT_MODEL))
    assert flaky.requests == 1
    flaky = Flaky(409, 5)
    with pytest.raises(ApiError, match="HTTP 409"):
        call(flaky, lambda p: p.service("orders").inject(FAULT_MODEL, retry_s=10))
    assert flaky.requests == 1
    flaky = Flaky(None, 5)
    with pytest.raises(TargetUnreachable):
        call(
            flaky,
            lambda p: p.service("orders").inject(FAULT_MODEL, retry_s=0.05, retry_every_s=0.1),
        )
    assert flaky.requests == 2  # the second try is past the 0.05 s


def test_inject_wants_201_created() -> None:
    with pytest.raises(ApiError, match="HTTP 200"):
        call(Recorder(200, FAULT), lambda p: p.service("orders").inject(FAULT_MODEL))
