"""Typed settings shared by the three demo services (read once in `__main__`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.faults import NoiseConfig

# Background noise is capped so it stays noise: a spike (<= 250 ms) cannot by itself cross the
# 0.5 s latency floor the default policies use. Error noise is off by default because at low
# traffic one error is a large share of a 15 s window (see docs/services.md).
MAX_NOISE_RATE = 0.02
MAX_NOISE_SPIKE_MS = 250.0


class ServiceSettings(BaseSettings):
    """Settings every demo service understands; env names are the upper-case field names."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    service_name: str = "service"
    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    log_level: str = "INFO"

    # Background noise of the original design: on by default, low, and capped.
    chaos_enabled: bool = True
    failure_rate: Annotated[float, Field(ge=0, le=MAX_NOISE_RATE)] = 0.0
    latency_spike_rate: Annotated[float, Field(ge=0, le=MAX_NOISE_RATE)] = 0.005
    latency_spike_ms: Annotated[float, Field(ge=0, le=MAX_NOISE_SPIKE_MS)] = 100.0

    # Off only for the overhead benchmark: no metrics middleware, no tracing, no request logs.
    instrumentation_enabled: bool = True

    # Bounded concurrency: what hung requests exhaust, like a worker pool.
    max_in_flight: Annotated[int, Field(ge=1, le=10_000)] = 64
    queue_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    chaos_tick_s: Annotated[float, Field(gt=0, le=5)] = 0.2

    # Bounded in-memory state per domain store.
    max_items: Annotated[int, Field(ge=10, le=1_000_000)] = 10_000

    def noise(self) -> NoiseConfig:
        return NoiseConfig(
            enabled=self.chaos_enabled,
            failure_rate=self.failure_rate,
            latency_spike_rate=self.latency_spike_rate,
            spike_ms=self.latency_spike_ms,
        )
