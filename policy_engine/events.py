"""Alertmanager v4 alerts -> engine events (pure). Works for Relia's anomaly service and for a
real Alertmanager whose labels may lack `service`/`metric` (best-effort mapping, documented)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from policy_engine.conditions import METRICS, SEVERITIES
from policy_engine.models import AMAlert, finite_or_none

SERVICE_LABELS = (
    "service",
    "compose_service",
    "com_docker_compose_service",
    "container_label_com_docker_compose_service",
    "app",
)
# alertname keyword -> (metric, kind) for alerts of other set-ups that carry no `metric` label:
# words of their alert names, not definitions of Relia's signals. A hint applies only when its
# metric is in the live vocabulary (the catalog); the first match wins, so more specific words
# come first.
_ALERTNAME_HINTS: tuple[tuple[str, str, str], ...] = (
    ("nodata", "availability", "no_data"),
    ("absent", "availability", "no_data"),
    ("down", "availability", "no_data"),
    ("availability", "availability", "deviation"),
    ("latency", "latency", "deviation"),
    ("slow", "latency", "deviation"),
    ("duration", "latency", "deviation"),
    ("error", "error_rate", "deviation"),
    ("5xx", "error_rate", "deviation"),
    ("cpu", "cpu", "deviation"),
    ("memory", "memory", "deviation"),
    ("oom", "memory", "deviation"),
    ("requestrate", "request_rate", "deviation"),
    ("traffic", "request_rate", "deviation"),
)
_SEVERITY_ALIASES = {
    "critical": "critical",
    "page": "critical",
    "error": "critical",
    "high": "critical",
    "major": "critical",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
    "normal": "normal",
}


@dataclass(frozen=True)
class Event:
    status: str  # firing | resolved
    service: str | None
    metric: str | None
    severity: str
    kind: str
    value: float | None
    anomaly_id: str | None
    fingerprint: str
    alertname: str
    starts_at: str
    # Callees the anomaly service blamed (annotation `caused_by`, comma-separated): a victim.
    caused_by: tuple[str, ...] = ()
    # It started while the service's traffic and CPU were above their bands (caused_by_load).
    caused_by_load: bool = False
    labels: tuple[tuple[str, str], ...] = ()  # the alert's own labels (alert: policies, silences)

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def severity_level(self) -> int:
        return SEVERITIES[self.severity]

    @property
    def dedupe_key(self) -> str:
        """Same fingerprint, status, start and severity = the same notification delivered again."""
        return f"{self.fingerprint}|{self.status}|{self.starts_at}|{self.severity}"


def _fingerprint(labels: dict[str, str]) -> str:
    text = "\x00".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def map_severity(raw: str | None) -> str:
    """Severity words of other alerting set-ups -> Relia's; missing or unknown -> warning."""
    if raw is None:
        return "warning"
    return _SEVERITY_ALIASES.get(raw.strip().lower(), "warning")


def to_event(alert: AMAlert) -> Event:
    labels = alert.labels
    service = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), None)
    alertname = labels.get("alertname", "")
    metric = labels.get("metric") if labels.get("metric") in METRICS else None
    kind = labels.get("kind") if labels.get("kind") in ("deviation", "no_data") else None
    if metric is None or kind is None:
        squashed = re.sub(r"[^a-z0-9]", "", alertname.lower())
        hint = next((h for h in _ALERTNAME_HINTS if h[0] in squashed and h[1] in METRICS), None)
        if hint is not None:
            metric = metric or hint[1]
            kind = kind or hint[2]
    return Event(
        status=alert.status,
        service=service,
        metric=metric,
        severity=map_severity(labels.get("severity")),
        kind=kind or "deviation",
        value=finite_or_none(alert.annotations.get("value")),
        anomaly_id=labels.get("anomaly_id") or None,
        fingerprint=alert.fingerprint or _fingerprint(labels),
        alertname=alertname,
        starts_at=alert.startsAt,
        caused_by=tuple(
            c.strip() for c in str(alert.annotations.get("caused_by") or "").split(",") if c.strip()
        ),
        caused_by_load=str(alert.annotations.get("caused_by_load", "")).lower() == "true",
        labels=tuple(sorted(labels.items())),
    )
