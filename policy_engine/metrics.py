"""The engine's own Prometheus metrics, on an explicit registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class EngineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.actions = Counter(
            "policy_engine_actions_total",
            "Action records by policy, action and outcome",
            ["policy", "action", "outcome"],
            registry=r,
        )
        self.alertmanager_posts = Counter(
            "policy_engine_alertmanager_posts_total",
            "Alerts posted to Alertmanager's API v2, by result (sent/failed after retries)",
            ["result"],
            registry=r,
        )
        self.guard_skips = Counter(
            "policy_engine_guard_skips_total",
            "Actions skipped by a guard, by reason",
            ["reason"],
            registry=r,
        )
        self.verifications = Counter(
            "policy_engine_verifications_total", "Verification results", ["result"], registry=r
        )
        self.enabled = Gauge(
            "policy_engine_remediation_enabled", "1 when automatic remediation is on", registry=r
        )
        self.dry_run = Gauge("policy_engine_dry_run", "1 when the engine runs dry", registry=r)
        self.policies_valid = Gauge(
            "policy_engine_policies_valid", "1 when the policies file on disk is valid", registry=r
        )
        self.policies_count = Gauge(
            "policy_engine_policies_active", "Policies in the active set", registry=r
        )
        self.reloads = Counter(
            "policy_engine_policy_reloads_total",
            "Policy file loads by result",
            ["result"],
            registry=r,
        )
        self.alerts = Counter(
            "policy_engine_alerts_received_total",
            "Alerts received by status",
            ["status"],
            registry=r,
        )
        self.duplicates = Counter(
            "policy_engine_alerts_duplicate_total", "Redelivered alerts ignored", registry=r
        )
        self.rejected = Counter(
            "policy_engine_requests_rejected_total",
            "Bad requests refused, by endpoint",
            ["endpoint"],
            registry=r,
        )
        self.breaker_open = Gauge(
            "policy_engine_breaker_open",
            "1 when the target's circuit breaker is open",
            ["target"],
            registry=r,
        )
        self.action_seconds = Histogram(
            "policy_engine_action_duration_seconds",
            "Actuator/webhook call duration",
            ["action"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.cycle_seconds = Histogram(
            "policy_engine_cycle_duration_seconds",
            "One control-loop cycle",
            buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
            registry=r,
        )
        self.last_cycle = Gauge(
            "policy_engine_last_evaluation_timestamp_seconds", "End of the last cycle", registry=r
        )
        self.docker_up = Gauge(
            "policy_engine_docker_reachable", "1 when Docker answers", registry=r
        )
        self.snapshot_ok = Gauge(
            "policy_engine_snapshot_fresh", "1 when the anomaly snapshot is fresh", registry=r
        )
