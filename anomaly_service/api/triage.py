"""GET /anomalies/{id}/triage: the triage packet (anomaly_service/triage.py)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from anomaly_service import triage
from anomaly_service.api.deps import engine
from anomaly_service.engine import Engine
from anomaly_service.prometheus import PrometheusUnavailable, QueryRejected
from anomaly_service.triage import Part
from relia_contracts.triage import TriagePacket

router = APIRouter(tags=["anomalies"])


async def _impact(eng: Engine, service: str, start: float, end: float) -> Part:
    window = triage.impact_window(start, end)
    try:
        total_q, failed_q = triage.impact_queries(service, window)
        total, failed = await asyncio.gather(
            eng.source.query(total_q, end), eng.source.query(failed_q, end)
        )
    except (PrometheusUnavailable, QueryRejected, ValueError) as exc:
        return Part(unavailable=f"Prometheus: {exc}")
    if not total or not math.isfinite(total[0].value):
        return Part(unavailable=f"no request series for {service} in the last {window:g} s")
    # No 5xx series at all means none failed (the selector matched nothing).
    failed_n = failed[0].value if failed and math.isfinite(failed[0].value) else 0.0
    return Part((round(total[0].value), round(failed_n), window))


async def _starts(eng: Engine, service: str, at: float) -> Part:
    try:
        rows = await eng.source.query(triage.restarts_query(service), at)
    except (PrometheusUnavailable, QueryRejected, ValueError) as exc:
        return Part(unavailable=f"Prometheus: {exc}")
    return Part({r.labels.get("container", "?"): r.value for r in rows if math.isfinite(r.value)})


@router.get(
    "/anomalies/{anomaly_id}/triage",
    response_model=TriagePacket,
    response_model_exclude_unset=True,
)
async def get_triage(request: Request, anomaly_id: str) -> dict[str, Any]:
    """What, when, where, impact, recent changes, suspected cause and next step."""
    eng = engine(request)
    anomaly = eng.tracker.get(anomaly_id)
    if anomaly is None:
        raise HTTPException(404, f"no anomaly {anomaly_id!r} (unknown, or evicted from history)")
    body = anomaly.to_dict()
    now = eng.clock()
    end = anomaly.resolved_at or now
    reader = request.app.state.platform_reader
    since = now - triage.CHANGES_WINDOW_S
    impact, starts, actions, status, planned, docker = await asyncio.gather(
        _impact(eng, anomaly.service, anomaly.opened_at, end),
        _starts(eng, anomaly.service, now),
        reader.actions(anomaly.service, since),
        reader.status(),
        reader.plan(anomaly.service),
        reader.changes(anomaly.service, since),
    )
    policies = (
        Part(status.value.get("policies"))
        if isinstance(status.value, dict)
        else Part(unavailable=status.unavailable)
    )
    inputs = triage.TriageInputs(
        anomaly=body,
        spec=next((s for s in eng.catalog if s.name == anomaly.metric), None),
        now=now,
        replicas=eng.state.replicas.get(anomaly.service),
        impact=impact,
        starts=starts,
        actions=actions,
        policies=policies,
        engine=status,
        plan=planned,
        docker=docker,
    )
    return triage.build(inputs)
