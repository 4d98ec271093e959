"""What a trigger asks for: the candidate action, its id, its busy key and its silence labels."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from policy_engine.models import Trigger
from policy_engine.policies import DOCKER_ACTIONS, Budget, Policy


def new_action_id() -> str:
    return "act-" + uuid.uuid4().hex[:16]


def busy_key(action: str, policy: str, service: str) -> str:
    """What one running action holds: the service for Docker actions, else policy+service."""
    return service if action in DOCKER_ACTIONS else f"alert:{policy}:{service}"


def action_labels(c: Candidate) -> dict[str, str]:
    """The label set a silence is matched against: an external alert's own labels, then the
    action's (service is the action's target; alertname ReliaAnomaly for Relia's anomalies)."""
    t = c.trigger
    labels = dict(t.labels)
    labels.update({"service": c.service, "policy": c.policy, "relia_action": c.action})
    alertname = t.alertname or ("ReliaAnomaly" if t.anomaly_id else None)
    for key, value in (("alertname", alertname), ("metric", t.metric), ("severity", t.severity)):
        if value:
            labels.setdefault(key, value)
    return labels


@dataclass(frozen=True)
class Candidate:
    """An action a trigger wants; the pipeline decides whether and how it happens."""

    policy: str
    action: str
    service: str
    params: dict[str, Any]
    trigger: Trigger
    version: str | None
    dry_run: bool = False
    manual: bool = False
    cooldown_s: float = 0.0
    budget: Budget | None = None
    cooldown_action: str | None = None  # manual actions: cooldown per (action, service)
    bypass_guards: bool = False  # the breaker's escalation alert
    id: str = field(default_factory=new_action_id)

    @classmethod
    def of_policy(cls, policy: Policy, trigger: Trigger, version: str, dry_run: bool) -> Candidate:
        return cls(
            policy=policy.name,
            action=policy.action,
            service=policy.service,
            params=dict(policy.params),
            trigger=trigger,
            version=version,
            dry_run=dry_run or policy.dry_run,
            cooldown_s=policy.cooldown_s,
            budget=policy.budget,
        )

    @property
    def busy_key(self) -> str:
        return busy_key(self.action, self.policy, self.service)

    @property
    def anomaly_key(self) -> tuple[str, str | None]:
        return (self.policy, self.trigger.anomaly_id)
