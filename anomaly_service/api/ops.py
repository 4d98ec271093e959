"""/models, /stats, /health, /ready, /metrics."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict

from anomaly_service.api.deps import engine
from relia_contracts.anomaly_stats import AnomalyServiceStats
from relia_contracts.catalog import CatalogSignal
from relia_contracts.severity import SEVERITIES

router = APIRouter(tags=["operations"])


class CatalogEntry(CatalogSignal):
    """A catalog signal as the anomaly service serves it: what consumers read (name, unit,
    query, description: relia_contracts.catalog), its detection settings, and Prometheus' last
    verdict on its query."""

    # forbid: a field added to the catalog is added here too, not dropped from the answer.
    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: Literal["up", "down", "both"]
    floor: float | None
    min_spread: float | None
    on_missing: Literal["no_data", "ignore"]
    min_value: float | None
    max_value: float | None
    runbook: str
    error: str | None  # Prometheus' error for the query in the last cycle
    series: int
    skipped_samples: int
    last_ok_at: float | None


class ModelsView(BaseModel):
    """`GET /models`: the detector's settings and the metric catalog."""

    detector: dict[str, Any]
    catalog_file: str
    catalog: list[CatalogEntry]
    check_interval_s: float
    no_data_cycles: int
    history_size: int
    evidence_points: int


def _catalog(request: Request) -> list[CatalogEntry]:
    eng = engine(request)
    out = []
    for spec in eng.catalog:
        status = eng.status[spec.name]
        out.append(
            CatalogEntry.model_validate(
                {
                    **spec.to_dict(),
                    "error": status.error,
                    "series": status.series,
                    "skipped_samples": status.skipped,
                    "last_ok_at": status.last_ok_at,
                }
            )
        )
    return out


def _metric_errors(request: Request) -> dict[str, str]:
    eng = engine(request)
    return {name: s.error for name, s in eng.status.items() if s.error is not None}


@router.get("/models")
def models(request: Request) -> ModelsView:
    """Detector settings and the metric catalog, with Prometheus' error per metric."""
    eng = engine(request)
    return ModelsView(
        detector=eng.config.to_dict(),
        catalog_file=request.app.state.catalog_file,
        catalog=_catalog(request),
        check_interval_s=eng.options.check_interval,
        no_data_cycles=eng.options.no_data_cycles,
        history_size=eng.options.history_size,
        evidence_points=eng.options.evidence_points,
    )


@router.get("/stats", response_model=AnomalyServiceStats)
def stats(request: Request) -> dict[str, Any]:
    eng = engine(request)
    s = eng.state
    by_severity = dict.fromkeys(SEVERITIES[1:], 0)
    by_kind = {"deviation": 0, "no_data": 0}
    for a in eng.tracker.active.values():
        by_severity[SEVERITIES[a.severity]] += 1
        by_kind[a.kind] = by_kind.get(a.kind, 0) + 1
    return {
        "cycle": s.cycle,
        "last_cycle_at": s.last_cycle_at,
        "last_success_at": s.last_success_at,
        "last_cycle_duration_s": s.last_duration_s,
        "fresh": eng.fresh(),
        "prometheus": {
            "url": request.app.state.prometheus_url,
            "reachable": s.prometheus_ok,
            "error": s.prometheus_error,
        },
        "backfill": {"done": s.backfilled, "points": s.backfill_points},
        "series_tracked": len(eng.tracker.series),
        "anomalies": {
            "active": len(eng.tracker.active),
            "resolved_kept": len(eng.tracker.resolved),
            "opened_total": eng.tracker.opened_total,
            "active_by_severity": by_severity,
            "active_by_kind": by_kind,
        },
        "metric_errors": _metric_errors(request),
        "events": eng.notifier.stats(),
        "history": {
            "persistent": eng.history.store is not None,
            "rows_written": eng.history.written,
            "last_write_s": eng.history.last_write_s,
            "feedback_records": len(eng.history.records),
            "sensitivities": len(eng.history.by_key),
        },
    }


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process serves."""
    return {"status": "ok"}


@router.get("/ready")
def ready(request: Request) -> JSONResponse:
    """Ready when the last cycle reached Prometheus recently; bad catalog metrics are listed."""
    eng = engine(request)
    fresh = eng.fresh()
    reasons = [] if fresh else [eng.state.prometheus_error or "Prometheus data is stale"]
    body = {
        "ready": fresh,
        "reasons": reasons,
        "metric_errors": _metric_errors(request),
        "cycle": eng.state.cycle,
        "last_success_at": eng.state.last_success_at,
    }
    return JSONResponse(body, status_code=200 if fresh else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
