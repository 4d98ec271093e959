"""Typed settings of the policy engine, read once in __main__ and passed to create_app."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    host: str = "0.0.0.0"
    port: int = Field(default=8081, ge=1, le=65535)
    policies_file: Path = Path("policy_engine/policies.yml")
    state_dir: Path = Path("/var/lib/relia")
    anomaly_service_url: str | None = None
    check_interval: float = Field(default=5.0, gt=0, le=300)
    auto_remediation_enabled: bool = True  # the toggle's value on the very first start only
    dry_run: bool = False
    policy_engine_token: str | None = None
    compose_project: str = "relia"
    # docker: compose containers of COMPOSE_PROJECT; swarm: services of the stack of that name
    # (docs/swarm.md). Explicit, not guessed: a compose stack on a swarm-mode engine is common.
    actuator_backend: Literal["docker", "swarm"] = "docker"
    # HOSTNAME: inside a container, its id, so the engine never acts on its own container.
    hostname: str | None = None
    verification_window_s: float = Field(default=120.0, gt=0)
    grace_period_s: float = Field(default=60.0, ge=0)
    alert_webhook_url: str | None = None
    docker_timeout_s: float = Field(default=10.0, gt=0)  # one Docker API call (list, ping, ...)
    action_timeout_s: float = Field(default=180.0, gt=0)  # a whole restart/scale, all replicas
    snapshot_stale_s: float = Field(default=30.0, gt=0)
    # An open anomaly's condition that turns true later must hold this long before acting.
    recheck_hold_s: float = Field(default=20.0, ge=0)
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    # Audit retention (pruned hourly): records older than this many days go, and beyond the
    # newest actions_max_records; a record awaiting verification always stays.
    actions_retention_days: float = Field(default=30.0, ge=1)
    actions_max_records: int = Field(default=100_000, ge=1000)
    actions_prune_interval_s: float = Field(default=3600.0, gt=0)
    # How often the condition vocabulary is read again from the anomaly service's catalog.
    vocabulary_refresh_s: float = Field(default=60.0, gt=0)
    # Alertmanager (docs/alertmanager.md): where `alert` actions and breaker escalations go
    # (unless a policy's params.url or settings.alert_url names a plain webhook), and whose
    # silences the guards honour. Unset: neither.
    alertmanager_url: str | None = None
    alertmanager_timeout_s: float = Field(default=2.0, gt=0, le=30)
    alertmanager_attempts: int = Field(default=3, ge=1, le=10)
    alertmanager_backoff_s: float = Field(default=0.5, ge=0, le=30)
    # A posted alert resolves by itself after this long (endsAt); re-posting refreshes it.
    alertmanager_alert_ttl_s: float = Field(default=900.0, gt=0)
    # Also post Relia's own anomalies (firing ones the engine receives) to Alertmanager.
    alertmanager_forward_anomalies: bool = False
    silences_refresh_s: float = Field(default=10.0, gt=0)
    # Older than this, the cached silences are not trusted: no silence is known, actions proceed.
    silences_max_age_s: float = Field(default=60.0, gt=0)
    # Links in posted alerts, as the operator's browser reaches them.
    dashboard_public_url: str = "http://localhost:3000"
    anomaly_service_public_url: str | None = "http://localhost:8080"
