"""Typed settings of the dashboard, read once in `__main__`."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from relia_web.guard import host_variants


class Settings(BaseSettings):
    """Environment variables (upper case) configure the dashboard."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=1, le=65535)
    # Host headers served (comma-separated; `*` for any): a DNS-rebinding page reaches us under
    # its own name. Empty: localhost, 127.0.0.1 and [::1], bare and with `port`.
    allowed_hosts: str = ""

    def served_hosts(self) -> list[str]:
        names = [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]
        return names or host_variants(("localhost", "127.0.0.1", "[::1]"), self.port)

    # Server-side backends: the browser never talks to them directly.
    anomaly_service_url: str = "http://anomaly-service:8080"
    policy_engine_url: str = "http://policy-engine:8081"
    # Only ever sent to the policy engine; never rendered, logged or returned to the browser.
    policy_engine_token: SecretStr | None = None

    # Public links shown to the user (their browser must reach these, so host URLs by default).
    grafana_url: str = "http://localhost:3001"
    grafana_dashboard_path: str = "/d/relia-overview"  # uid provisioned in monitoring/grafana
    jaeger_url: str = "http://localhost:16686"
    prometheus_url: str = "http://localhost:9090"

    poll_interval_s: float = Field(default=2.0, gt=0.05, le=60)
    # Data older than this is shown as stale with its age (3 cycles of the anomaly service).
    stale_after_s: float = Field(default=15.0, gt=0)
    request_timeout_s: float = Field(default=2.0, gt=0, le=30)
    # Points kept per signal for the overview's sparklines.
    sparkline_points: int = Field(default=120, ge=2, le=2000)
