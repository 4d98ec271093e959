"""Alertmanager v4 payloads and fingerprints."""

from __future__ import annotations

from anomaly_service.events import alertmanager_payload, iso
from anomaly_service.records import Anomaly, fingerprint

TOP_KEYS = {
    "version",
    "groupKey",
    "status",
    "receiver",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
    "truncatedAlerts",
    "alerts",
}
ALERT_KEYS = {
    "status",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "generatorURL",
    "fingerprint",
}


def _anomaly(**over: object) -> dict[str, object]:
    a = Anomaly(
        id="a-0123456789abcdef",
        fingerprint=fingerprint("latency", {"service": "orders"}, "deviation"),
        service="orders",
        metric="latency",
        labels={"service": "orders"},
        kind="deviation",
        severity=2,
        peak_severity=2,
        opened_at=1795290000.25,
        unit="seconds",
        direction="up",
        value=0.81,
        baseline=0.02,
        lower=0.0,
        upper=0.05,
    )
    for k, v in over.items():
        setattr(a, k, v)
    return a.to_dict()


def test_fingerprint_is_stable_16_hex_and_label_order_free() -> None:
    a = fingerprint("latency", {"service": "orders", "instance": "x:1"}, "deviation")
    b = fingerprint("latency", {"instance": "x:1", "service": "orders"}, "deviation")
    assert a == b
    assert len(a) == 16
    assert int(a, 16) >= 0
    # Pinned value: a change here breaks dedup in the policy engine across restarts.
    assert fingerprint("latency", {"service": "orders"}, "deviation") == "09b4a97da967fd8b"
    assert a != fingerprint("latency", {"service": "users", "instance": "x:1"}, "deviation")
    assert a != fingerprint("cpu", {"service": "orders", "instance": "x:1"}, "deviation")
    assert a != fingerprint("latency", {"service": "orders", "instance": "x:1"}, "no_data")


def test_firing_payload_is_alertmanager_v4() -> None:
    anomaly = _anomaly()
    p = alertmanager_payload(anomaly, "firing", "http://anomaly-service:8080/")
    assert set(p) == TOP_KEYS
    assert p["version"] == "4"
    assert p["status"] == "firing"
    assert p["receiver"] == "relia-policy-engine"
    assert p["groupKey"] == f"relia:{anomaly['fingerprint']}"
    assert p["groupLabels"] == {"alertname": "ReliaAnomaly"}
    assert p["externalURL"] == "http://anomaly-service:8080"
    assert p["truncatedAlerts"] == 0
    (alert,) = p["alerts"]
    assert set(alert) == ALERT_KEYS
    assert alert["labels"] == {
        "alertname": "ReliaAnomaly",
        "service": "orders",
        "metric": "latency",
        "severity": "warning",
        "kind": "deviation",
        "anomaly_id": "a-0123456789abcdef",
    }
    assert alert["annotations"]["value"] == "0.81"
    assert alert["annotations"]["baseline"] == "0.02"
    assert alert["annotations"]["band"] == "0..0.05"
    assert alert["annotations"]["unit"] == "seconds"
    assert "orders latency" in alert["annotations"]["summary"]
    assert alert["startsAt"] == "2026-11-21T19:40:00.250Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["generatorURL"] == "http://anomaly-service:8080/anomalies/a-0123456789abcdef"
    assert alert["fingerprint"] == anomaly["fingerprint"]
    assert p["commonLabels"] == alert["labels"]
    assert p["commonAnnotations"] == alert["annotations"]


def test_resolved_payload_has_a_real_end() -> None:
    anomaly = _anomaly(status="resolved", resolved_at=1795290060.0)
    p = alertmanager_payload(anomaly, "resolved", "http://a:8080")
    assert p["status"] == "resolved"
    assert p["alerts"][0]["status"] == "resolved"
    assert p["alerts"][0]["endsAt"] == iso(1795290060.0) == "2026-11-21T19:41:00.000Z"


def test_no_data_payload_has_no_value() -> None:
    anomaly = _anomaly(kind="no_data", severity=3, value=None)
    alert = alertmanager_payload(anomaly, "firing", "http://a:8080")["alerts"][0]
    assert alert["labels"]["kind"] == "no_data"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["value"] == "none"
    assert "no data" in alert["annotations"]["summary"]
