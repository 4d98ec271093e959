"""What Relia posts to Alertmanager's API v2 (`POST /api/v2/alerts`), built without I/O.

Labels (what Alertmanager routes, groups, inhibits and silences on):
  alertname  ReliaPolicyAlert | ReliaBreakerOpen | ReliaAnomaly
  service    the compose service concerned
  severity   critical | warning | info
  relia_kind policy_alert | breaker_open | anomaly (also the loop guard: POST /alerts ignores
             alerts carrying it, so a route back to the engine never feeds Relia its own output)
  policy     the policy that asked (breaker / anomaly for the other two kinds)
Annotations: summary, dashboard (link), triage (link, when an anomaly is known).
`endsAt` is set (now + ttl): a one-shot notification resolves by itself instead of lingering
until Alertmanager's resolve_timeout, and re-posting the same labels refreshes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from policy_engine.models import ActionRecord
from relia_contracts.severity import SEVERITIES

# The severities an alert can carry: every word of the shared order but "normal".
ALERT_SEVERITIES = SEVERITIES[1:]

ALERTNAMES = {
    "policy_alert": "ReliaPolicyAlert",
    "breaker_open": "ReliaBreakerOpen",
    "anomaly": "ReliaAnomaly",
}
LOOP_LABEL = "relia_kind"


@dataclass(frozen=True)
class Links:
    dashboard_url: str
    anomaly_service_url: str | None = None  # as a browser reaches it (triage links)

    def triage(self, anomaly_id: str | None) -> str | None:
        if not anomaly_id or not self.anomaly_service_url:
            return None
        return f"{self.anomaly_service_url.rstrip('/')}/anomalies/{anomaly_id}/triage"


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def build_alert(
    *,
    kind: str,
    service: str,
    severity: str,
    policy: str,
    summary: str,
    links: Links,
    now: float,
    ttl_s: float,
    anomaly_id: str | None = None,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    labels = {
        **(extra_labels or {}),
        "alertname": ALERTNAMES[kind],
        "service": service,
        "severity": severity if severity in ALERT_SEVERITIES else "warning",
        LOOP_LABEL: kind,
        "policy": policy,
    }
    annotations = {"summary": summary, "dashboard": links.dashboard_url}
    triage = links.triage(anomaly_id)
    if triage:
        annotations["triage"] = triage
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(now),
        "endsAt": rfc3339(now + ttl_s),
        "generatorURL": links.dashboard_url,
    }


def alert_of_record(record: ActionRecord, links: Links, now: float, ttl_s: float) -> dict[str, Any]:
    """The `alert` action (a policy's) or the breaker's escalation, as an Alertmanager alert."""
    breaker = record.policy == "breaker"
    trigger = record.trigger
    summary = str(record.params.get("message") or "") or (
        f"{record.policy}: {trigger.metric or 'condition'} on {record.service}"
    )
    extra = {"metric": trigger.metric} if trigger.metric else {}
    return build_alert(
        kind="breaker_open" if breaker else "policy_alert",
        service=record.service,
        severity="critical" if breaker else (trigger.severity or "warning"),
        policy=record.policy,
        summary=summary,
        links=links,
        now=now,
        ttl_s=ttl_s,
        anomaly_id=trigger.anomaly_id,
        extra_labels=extra,
    )
