"""GET /anomalies (filters, paging) and GET /anomalies/{id} (with evidence)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request

from anomaly_service.api.deps import engine, page
from anomaly_service.engine import Engine
from anomaly_service.feedback import series_id
from relia_contracts.anomalies import AnomalyDetail, AnomalyPage
from relia_contracts.severity import SEVERITY_RANK, SeverityWord

router = APIRouter(tags=["anomalies"])


@router.get("/anomalies", response_model=AnomalyPage)
def list_anomalies(
    request: Request,
    service: str | None = None,
    metric: str | None = None,
    severity: Annotated[SeverityWord | None, Query(description="minimum severity")] = None,
    status: Literal["active", "resolved"] | None = None,
    since: Annotated[
        float | None, Query(description="active at or after this time (Unix s)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Active and resolved anomalies, newest first."""
    known = [spec.name for spec in engine(request).catalog]
    if metric is not None and metric not in known:
        # A typo must not read as "no anomalies".
        raise HTTPException(422, f"unknown metric {metric!r}; the catalog has {', '.join(known)}")
    minimum = SEVERITY_RANK[severity] if severity else 0
    chosen = []
    for a in engine(request).tracker.all_anomalies():
        if service is not None and a.service != service:
            continue
        if metric is not None and a.metric != metric:
            continue
        if a.severity < minimum or (status is not None and a.status != status):
            continue
        # since: anomalies that overlap [since, now] (active ones always do).
        if since is not None and a.status == "resolved" and (a.resolved_at or 0.0) < since:
            continue
        chosen.append(a)
    chosen.sort(key=lambda a: (a.opened_at, a.id), reverse=True)
    result = page(chosen, limit, offset)
    latest = _latest_labels(engine(request))
    result["items"] = [{**a.to_dict(), "feedback": latest.get(a.id)} for a in result["items"]]
    return result


def _latest_labels(eng: Engine) -> dict[str, str]:
    return {r.anomaly_id: r.label for r in eng.history.records}


@router.get("/anomalies/{anomaly_id}", response_model=AnomalyDetail)
def get_anomaly(request: Request, anomaly_id: str) -> dict[str, Any]:
    """One anomaly with its evidence: the series around it and its baseline band."""
    eng = engine(request)
    anomaly = eng.tracker.get(anomaly_id)
    if anomaly is None:
        raise HTTPException(404, f"no anomaly {anomaly_id!r} (unknown, or evicted from history)")
    body = anomaly.to_dict()
    records = eng.history.for_anomaly(anomaly.id)
    body["feedback"] = records[-1]["label"] if records else None
    body["feedback_records"] = records
    sens = eng.history.sensitivity_of(anomaly.metric, anomaly.labels)
    now = eng.clock()
    body["series_id"] = series_id(anomaly.metric, anomaly.labels)
    body["sensitivity"] = None if sens is None else sens.view(now)
    body["evidence"] = eng.tracker.evidence_for(anomaly)
    return body
