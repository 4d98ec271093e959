"""`GET /stats` of the anomaly service: the cycle, Prometheus, anomaly counts and persistence.

The dashboard reads `last_success_at` and `prometheus.error` from it (how old its data is).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class PrometheusLink(BaseModel):
    url: str
    reachable: bool
    error: str | None


class Backfill(BaseModel):
    done: bool
    points: int


class AnomalyCounts(BaseModel):
    active: int
    resolved_kept: int
    opened_total: int
    active_by_severity: dict[str, int]  # info, warning, critical
    active_by_kind: dict[str, int]  # deviation, no_data


class HistoryStats(BaseModel):
    persistent: bool
    rows_written: int
    last_write_s: float | None
    feedback_records: int
    sensitivities: int


class AnomalyServiceStats(BaseModel):
    cycle: int
    last_cycle_at: float | None
    last_success_at: float | None
    last_cycle_duration_s: float | None
    fresh: bool
    prometheus: PrometheusLink
    backfill: Backfill
    series_tracked: int
    anomalies: AnomalyCounts
    metric_errors: dict[str, str]  # catalog metric -> Prometheus' error in the last cycle
    # the event notifier's delivery counters; their set is the notifier's own
    events: dict[str, Any]
    history: HistoryStats
