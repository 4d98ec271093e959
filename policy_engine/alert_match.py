"""`alert:` in a policy: which external (Alertmanager) alerts it acts on (pure).

    alert: {alertname: HighErrorRate, labels: {job: orders}}

Exact equality on the alertname and on each label given; at least one of the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# An `alert:` policy with no condition of its own acts on every firing alert it matches.
ALERT_DEFAULT_CONDITION = "severity >= normal"
_LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


@dataclass(frozen=True)
class AlertMatch:
    """`alert: {alertname: HighErrorRate, labels: {job: orders}}`: exact label equality."""

    alertname: str | None = None
    labels: tuple[tuple[str, str], ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.alertname is not None and labels.get("alertname") != self.alertname:
            return False
        return all(labels.get(k) == v for k, v in self.labels)

    def as_dict(self) -> dict[str, Any]:
        return {"alertname": self.alertname, "labels": dict(self.labels)}


def parse_alert_match(raw: Any) -> AlertMatch:
    if not isinstance(raw, dict):
        raise ValueError(
            f"must be a mapping like {{alertname: X, labels: {{k: v}}}}, got {type(raw).__name__}"
        )
    unknown = sorted(set(map(str, raw)) - {"alertname", "labels"})
    if unknown:
        raise ValueError(f"unknown key '{unknown[0]}' (allowed: alertname, labels)")
    name = raw.get("alertname")
    if name is not None and (not isinstance(name, str) or not name or len(name) > 200):
        raise ValueError(f"alertname must be a non-empty string, got {name!r}")
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict):
        raise ValueError(
            f"labels must be a mapping of label name to value, got {type(labels).__name__}"
        )
    pairs = []
    for key, value in labels.items():
        if not isinstance(key, str) or not _LABEL_NAME_RE.match(key):
            raise ValueError(f"label name {key!r} is not a Prometheus label name")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(f"label '{key}' must have a string value, got {type(value).__name__}")
        pairs.append((key, str(value)))
    if name is None and not pairs:
        raise ValueError("give an alertname, labels or both")
    return AlertMatch(name, tuple(sorted(pairs)))
