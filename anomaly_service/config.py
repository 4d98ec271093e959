"""Typed settings, read once in __main__ and passed to create_app."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from relia_contracts.catalog import SHIPPED_CATALOG

# The file next to this module; its path is defined once, where every component reads it.
DEFAULT_CATALOG = SHIPPED_CATALOG


class Settings(BaseSettings):
    """Environment variables of the anomaly service (names are the upper-case field names)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    prometheus_url: str = "http://prometheus:9090"
    prometheus_timeout_s: float = Field(default=4.0, gt=0)
    # Any PromQL backend (Thanos, Mimir, Cortex, VictoriaMetrics): extra headers on every query,
    # as JSON, e.g. PROMETHEUS_HEADERS='{"X-Scope-OrgID": "tenant-1"}' (docs/anomaly-service.md).
    prometheus_headers: dict[str, str] = Field(default_factory=dict)
    # Sent as `Authorization: Bearer ...`; a secret, so never shown by /status or in logs.
    prometheus_bearer_token: SecretStr | None = None
    policy_engine_url: str = ""  # empty: events are built and counted as dropped, not sent
    policy_engine_token: str = ""
    external_url: str = "http://anomaly-service:8080"
    check_interval: float = Field(default=5.0, gt=0)
    metrics_catalog: Path = DEFAULT_CATALOG
    # Past window read with a range query on start, so baselines are not blind after a restart.
    backfill_window_s: float = Field(default=900.0, ge=0)
    backfill_step_s: float = Field(default=0.0, ge=0)  # 0: use check_interval
    # Missing cycles before a vanished series becomes a no_data anomaly.
    no_data_cycles: int = Field(default=2, ge=1)
    # Selector whose targets make up a service's replicas (for /services/health).
    up_selector: str = 'up{job="services"}'
    # Event delivery: bounded queue, retries with exponential backoff.
    event_queue_size: int = Field(default=1000, ge=1)
    event_max_attempts: int = Field(default=6, ge=1)
    event_backoff_initial_s: float = Field(default=0.5, gt=0)
    event_backoff_max_s: float = Field(default=30.0, gt=0)
    event_timeout_s: float = Field(default=5.0, gt=0)
    # Bounded memory: resolved anomalies kept, and points of evidence per series.
    history_size: int = Field(default=1000, ge=1)
    evidence_points: int = Field(default=360, ge=10)
    series_capacity: int = Field(default=256, ge=1)
    # A series absent this long is forgotten (its no_data anomaly closes as expired).
    series_ttl_s: float = Field(default=3600.0, gt=0)
    # History that survives restarts: SQLite in this directory (empty: memory only, lost on
    # restart). Resolved anomalies and feedback older than the retention go; beyond
    # history_size resolved anomalies and feedback_max_records labels, the oldest go.
    state_dir: Path | None = None
    history_retention_days: float = Field(default=30.0, gt=0)
    feedback_max_records: int = Field(default=10_000, ge=1)
    # Operator feedback: each `noise` label multiplies a series' severity thresholds by
    # feedback_step, at most up to feedback_max_factor; a mute lasts at most feedback_max_mute_s.
    feedback_step: float = Field(default=1.5, gt=1.0, le=10.0)
    feedback_max_factor: float = Field(default=4.0, ge=1.0, le=100.0)
    feedback_max_mute_s: float = Field(default=7 * 86400.0, gt=0, le=7 * 86400.0)
    # Overrides of DetectorConfig fields, as JSON: DETECTOR_CONFIG='{"min_points": 10}'.
    detector_config: dict[str, float | int] = Field(default_factory=dict)

    @field_validator("prometheus_headers")
    @classmethod
    def _headers_valid(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(value)

    def prometheus_request_headers(self) -> dict[str, str]:
        """Every header the Prometheus source sends (the bearer token wins over a header)."""
        out = dict(self.prometheus_headers)
        if self.prometheus_bearer_token is not None:
            out["Authorization"] = f"Bearer {self.prometheus_bearer_token.get_secret_value()}"
        return out


_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """HTTP header names are tokens and values one line: refuse anything else at start-up."""
    for name, value in headers.items():
        if not name or not set(name) <= _TOKEN_CHARS:
            raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"header {name!r}: the value must be one line (no CR, LF or NUL)")
    return headers
