"""Alertmanager alerts -> engine events: Relia's own, and a real Alertmanager's best effort."""

from __future__ import annotations

import pytest

from policy_engine.events import map_severity, to_event
from policy_engine.models import AMAlert
from policy_engine.snapshot import parse_predict


def am(labels: dict[str, str], **kw: str) -> AMAlert:
    return AMAlert(
        status=kw.get("status", "firing"),
        labels=labels,
        annotations=kw.get("annotations", {}),
        startsAt="2026-01-01T00:00:00Z",
        fingerprint=kw.get("fingerprint", ""),
    )  # type: ignore[arg-type]


def test_relia_alert_maps_directly() -> None:
    event = to_event(
        am(
            {
                "alertname": "ReliaAnomaly",
                "service": "orders",
                "metric": "cpu",
                "severity": "critical",
                "kind": "deviation",
                "anomaly_id": "a-7",
            },
            fingerprint="abc",
            annotations={"value": "1.5"},
        )
    )
    assert (event.service, event.metric, event.severity, event.kind) == (
        "orders",
        "cpu",
        "critical",
        "deviation",
    )
    assert event.value == 1.5
    assert event.anomaly_id == "a-7"
    assert event.fingerprint == "abc"
    assert event.dedupe_key == "abc|firing|2026-01-01T00:00:00Z|critical"


@pytest.mark.parametrize(
    ("alertname", "metric", "kind"),
    [
        ("OrdersHighLatency", "latency", "deviation"),
        ("SlowRequests", "latency", "deviation"),
        ("HighErrorRate", "error_rate", "deviation"),
        ("Too many 5xx", "error_rate", "deviation"),
        ("ContainerCPUHigh", "cpu", "deviation"),
        ("MemoryLeak", "memory", "deviation"),
        ("OOMKilled", "memory", "deviation"),
        ("TargetDown", "availability", "no_data"),
        ("InstanceDown", "availability", "no_data"),
        ("AbsentMetrics", "availability", "no_data"),
        ("Watchdog", None, "deviation"),
    ],
)
def test_alertmanager_alertname_hints(alertname: str, metric: str | None, kind: str) -> None:
    event = to_event(am({"alertname": alertname, "compose_service": "users"}))
    assert (event.service, event.metric, event.kind) == ("users", metric, kind)


def test_service_label_fallbacks_and_missing_service() -> None:
    labels = {"alertname": "X", "container_label_com_docker_compose_service": "payments"}
    assert to_event(am(labels)).service == "payments"
    assert to_event(am({"alertname": "X", "job": "node"})).service is None


def test_fingerprint_is_computed_when_missing_and_stable() -> None:
    a = to_event(am({"alertname": "X", "service": "orders"}))
    b = to_event(am({"service": "orders", "alertname": "X"}))
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 16


@pytest.mark.parametrize(
    ("raw", "word"),
    [
        ("critical", "critical"),
        ("PAGE", "critical"),
        ("error", "critical"),
        ("warn", "warning"),
        ("info", "info"),
        ("low", "info"),
        (None, "warning"),
        ("whatever", "warning"),
    ],
)
def test_severity_aliases(raw: str | None, word: str) -> None:
    assert map_severity(raw) == word


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity", "abc", ""])
def test_non_finite_or_garbage_values_are_unknown(value: str) -> None:
    assert to_event(am({"service": "orders"}, annotations={"value": value})).value is None


def test_predict_parsing_is_tolerant_and_builds_context() -> None:
    body = {
        "series": [
            {
                "service": "orders",
                "metric": "latency",
                "value": 0.9,
                "severity": "warning",
                "kind": "deviation",
                "anomaly_id": "a-1",
                "ts": 95.0,
            },
            {"service": "orders", "metric": "cpu", "value": "NaN", "severity": "bogus", "ts": "x"},
            {
                "service": "orders",
                "metric": "availability",
                "value": None,
                "severity": "critical",
                "kind": "no_data",
            },
            "junk",
            {"service": 3, "metric": "cpu"},
        ]
    }
    snap = parse_predict(body, 100.0)
    assert len(snap.series) == 3
    assert snap.cycle_at == 95.0  # the cycle shown: the latest valid series `ts`
    ctx = snap.context("orders")
    assert ctx.values == {"latency": 0.9, "cpu": None, "availability": None}
    assert ctx.severity == 3
    assert ctx.no_data is True
    assert snap.anomaly_open("a-1", "orders", "latency")
    assert not snap.anomaly_open("a-2", "orders", "latency")
    with pytest.raises(ValueError, match="no 'series' list"):
        parse_predict({"nope": 1}, 0.0)
