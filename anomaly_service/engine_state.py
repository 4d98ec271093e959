"""The engine's options and the state its cycles report (EngineOptions, CycleState)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EngineOptions:
    check_interval: float = 5.0
    backfill_window_s: float = 900.0
    backfill_step_s: float = 0.0
    no_data_cycles: int = 2
    up_selector: str = 'up{job="services"}'
    external_url: str = "http://anomaly-service:8080"
    history_size: int = 1000
    evidence_points: int = 360
    series_capacity: int = 256
    series_ttl_s: float = 3600.0


@dataclass
class CycleState:
    cycle: int = 0
    last_cycle_at: float | None = None
    last_success_at: float | None = None
    last_duration_s: float | None = None
    prometheus_ok: bool = False
    prometheus_error: str | None = "no cycle has run yet"
    backfilled: bool = False
    backfill_points: int = 0
    replicas: dict[str, tuple[int, int]] = field(default_factory=dict)  # service -> (up, total)
