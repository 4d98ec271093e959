"""Alertmanager webhook v4 payloads for anomaly transitions (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from anomaly_service.records import fmt

ALERTNAME = "ReliaAnomaly"
RECEIVER = "relia-policy-engine"
ZERO_TIME = "0001-01-01T00:00:00Z"


def iso(ts: float) -> str:
    """RFC 3339 UTC with millisecond precision, as Alertmanager writes it."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def alertmanager_payload(anomaly: dict[str, Any], status: str, external_url: str) -> dict[str, Any]:
    """One notification with one alert, for an anomaly snapshot (Anomaly.to_dict())."""
    base = external_url.rstrip("/")
    labels = {
        "alertname": ALERTNAME,
        "service": anomaly["service"],
        "metric": anomaly["metric"],
        "severity": anomaly["severity"],
        "kind": anomaly["kind"],
        "anomaly_id": anomaly["id"],
    }
    lower, upper = anomaly.get("lower"), anomaly.get("upper")
    annotations = {
        "value": fmt(anomaly.get("value")),
        "baseline": fmt(anomaly.get("baseline")),
        "band": f"{fmt(lower)}..{fmt(upper)}",
        "summary": anomaly["summary"],
        "unit": anomaly.get("unit", ""),
        "triage": f"{base}/anomalies/{anomaly['id']}/triage",
    }
    if anomaly.get("caused_by"):
        # A victim of a dependency: policies can leave it alone and act on the root instead.
        annotations["caused_by"] = ",".join(anomaly["caused_by"])
        annotations["root_causes"] = ",".join(anomaly.get("root_causes", []))
        annotations["cause"] = "; ".join(
            f"{e['callee']} {e['callee_state']}: {e['signal']}={fmt(e['value'])}, "
            f"opened first: {e['opened_first']}"
            for e in anomaly.get("cause_evidence", [])
        )
    if anomaly.get("caused_by_load"):
        # It started while the service's own traffic was above its band: load, not a fault.
        annotations["caused_by_load"] = "true"
    resolved = status == "resolved"
    ends_at = iso(anomaly["resolved_at"]) if resolved and anomaly.get("resolved_at") else ZERO_TIME
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": iso(anomaly["opened_at"]),
        "endsAt": ends_at,
        "generatorURL": f"{base}/anomalies/{anomaly['id']}",
        "fingerprint": anomaly["fingerprint"],
    }
    return {
        "version": "4",
        "groupKey": f"relia:{anomaly['fingerprint']}",
        "status": status,
        "receiver": RECEIVER,
        "groupLabels": {"alertname": ALERTNAME},
        # One alert per notification, so every label and annotation is common.
        "commonLabels": dict(labels),
        "commonAnnotations": dict(annotations),
        "externalURL": base,
        "truncatedAlerts": 0,
        "alerts": [alert],
    }
